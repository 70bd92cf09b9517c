package redact_test

import (
	"bytes"
	"errors"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/rmsproject/rms/agent/redact"
)

var _ = Describe("Redactor defaults", func() {
	r := redact.Default()

	DescribeTable("redacts patient identifiers and keeps the rest of the line",
		func(in, want string) {
			Expect(r.Line(in)).To(Equal(want))
			// Running twice changes nothing more: markers are not re-redacted.
			Expect(r.Line(r.Line(in))).To(Equal(want))
		},
		// DICOM by tag
		Entry("dcmdump name", `I: (0010,0010) PN [Doe^John]                              #   8, 1 PatientName`,
			`I: (0010,0010) PN [[REDACTED:name]]                              #   8, 1 PatientName`),
		Entry("dcmdump ID and birth date on one line", `W: (0010,0020) LO [MRN00123456] (0010,0030) DA [19650412] (0008,0060) CS [CT]`,
			`W: (0010,0020) LO [[REDACTED:id]] (0010,0030) DA [[REDACTED:dob]] (0008,0060) CS [CT]`),
		Entry("pydicom element", `(0010, 0010) Patient's Name                      PN: 'Doe^Jane'`,
			`(0010, 0010) Patient's Name                      PN: '[REDACTED:name]'`),
		Entry("tag=value", `tag (0010,0020)=4455667 rejected`, `tag (0010,0020)=[REDACTED:id] rejected`),
		Entry("VR and bare value", `(0010,1040) LO "12 Main St, Springfield"`, `(0010,1040) LO "[REDACTED:address]"`),
		Entry("empty dcmdump value untouched", `(0010,0010) PN (no value available)     #   0, 0 PatientName`,
			`(0010,0010) PN (no value available)     #   0, 0 PatientName`),
		// DICOM / application keywords
		Entry("PatientName=", `INFO [ui] Patient selected: PatientName=Smith^Anna PatientID=4455667 modality=MR`,
			`INFO [ui] Patient selected: PatientName=[REDACTED:name] PatientID=[REDACTED:id] modality=MR`),
		Entry("caret name stops at the token", `PatientName=Doe^John Scan started`, `PatientName=[REDACTED:name] Scan started`),
		Entry("Patient Name: with spaces", `Patient Name: John Doe was registered`, `Patient Name: [REDACTED:name] was registered`),
		Entry("JSON keys", `{"PatientName": "Doe^John", "PatientBirthDate": "19650412", "StudyDate": "20260301"}`,
			`{"PatientName": "[REDACTED:name]", "PatientBirthDate": "[REDACTED:dob]", "StudyDate": "20260301"}`),
		Entry("snake case", `patient_id=A77881 patient_birth_date=1965-04-12`, `patient_id=[REDACTED:id] patient_birth_date=[REDACTED:dob]`),
		Entry("OtherPatientIDs", `OtherPatientIDs=[X1\X2]`, `OtherPatientIDs=[[REDACTED:id]]`),
		// HL7 v2
		Entry("PID segment keeps separators",
			`HL7 IN ORM^O01: PID|1||12345678^^^HOSP^MR||Doe^Jane^A||19700101|F|||12 Main St^^Springfield^IL^62701||(555)555-0100|||S`,
			`HL7 IN ORM^O01: PID|1||[REDACTED:id]||[REDACTED:name]||[REDACTED:dob]|F|||[REDACTED:address]||[REDACTED:phone]|||S`),
		Entry("PID after MSH with printed CR, OBR kept",
			`MSH|^~\&|RIS|HOSP|CT01|RAD|20260301120000||ORM^O01|MSG0001|P|2.5\rPID|1|X9|555^^^H^MR\rOBR|1|ACC42||CTHEAD`,
			`MSH|^~\&|RIS|HOSP|CT01|RAD|20260301120000||ORM^O01|MSG0001|P|2.5\rPID|1|[REDACTED:id]|[REDACTED:id]\rOBR|1|ACC42||CTHEAD`),
		Entry("PID segment with a real CR", "PID|1||777^^^H^MR||Roe^Richard\rPV1|1|O", "PID|1||[REDACTED:id]||[REDACTED:name]\rPV1|1|O"),
		Entry("NK1 next of kin", `NK1|1|Doe^Mary|SPO|1 Elm Rd^^Town|(555)123-4567`, `NK1|1|[REDACTED:name]|SPO|[REDACTED:address]|[REDACTED:phone]`),
		Entry("MRG prior ids", `MRG|998877^^^H^MR|||998877`, `MRG|[REDACTED:id]|||[REDACTED:id]`),
		// MRN-like numbers, birth dates, SSN, e-mail
		Entry("MRN: ", `INFO [lab] Sample S-2231 loaded for MRN: 88990011 DOB: 03/04/1958 rack 4`,
			`INFO [lab] Sample S-2231 loaded for MRN: [REDACTED:mrn] DOB: [REDACTED:dob] rack 4`),
		Entry("MRN#", `MRN#12345678 queued`, `MRN#[REDACTED:mrn] queued`),
		Entry("medical record number", `medical record number 0045-7781 merged`, `medical record number [REDACTED:mrn] merged`),
		Entry("Med Rec No.", `Med Rec No. A-1234 printed`, `Med Rec No. [REDACTED:mrn] printed`),
		Entry("date of birth written out", `date of birth: April 12, 1965 verified`, `date of birth: [REDACTED:dob] verified`),
		Entry("birth date European", `Birth date 12.04.65; sex F`, `Birth date [REDACTED:dob]; sex F`),
		Entry("DOB day month year", `DOB=12 Apr 1965`, `DOB=[REDACTED:dob]`),
		Entry("SSN", `SSN: 123-45-6789`, `SSN: [REDACTED:ssn]`),
		Entry("e-mail", `report mailed to jane.doe@example.org ok`, `report mailed to [REDACTED:email] ok`),
	)

	DescribeTable("leaves lines without identifiers alone",
		func(in string) { Expect(r.Line(in)).To(Equal(in)) },
		Entry("timestamp and level", `2026-03-01T12:00:00.123Z INFO  [acq] Scan #1234 completed: protocol=HEAD_ROUTINE slices=320`),
		Entry("syslog date", `Mar  1 12:00:01 ct01 rmsd[2231]: started`),
		Entry("error code", `2026-03-01 12:00:00.000 ERROR [svc] E-101 X-ray tube overheating: tube.temp=86.2C threshold=85C`),
		Entry("hex address", `segfault at 0x7ffd5e8c1a20 ip 00007f2a3b4c5d6e sp 00007ffd5e8c19f0 error 4`),
		Entry("version numbers", `firmware 4.12.0-rc1 build 20250101 (git 1a2b3c4d)`),
		Entry("other DICOM tags", `(0008,0060) CS [CT] (0020,000D) UI [1.2.840.113619.2.55.3.604688119.969.1268071029.320]`),
		Entry("study date", `StudyDate=20260301 SeriesNumber=3`),
		Entry("HL7 header and results", `MSH|^~\&|LIS|LAB|AX200|HOSP|20260301120000||ORU^R01|M42|P|2.5.1`),
		Entry("OBX result", `OBX|1|NM|GLU^Glucose||5.4|mmol/L|3.9-6.1|N|||F`),
		Entry("a process id", `worker PID 4242 exited; ppid=1; XPID|1||123`),
		Entry("PID controller", `PID controller tuned: kp=1.2 ki=0.1`),
		Entry("MRN word without number", `MRN lookup failed: code 404`),
		Entry("birth date label without a date", `DOB field missing in worklist item 17`),
		Entry("IP and port", `connected to 10.0.12.7:104 as AE CT01`),
		Entry("durations and sizes", `upload 12.5 MiB in 3.2s (3.9 MiB/s), 98% done`),
	)

	It("counts what it replaced per rule while streaming", func() {
		src := "PatientName=Doe^John\nplain line\r\nMRN: 12345678 DOB: 1965-04-12\nlast line without newline"
		var out bytes.Buffer
		st, err := r.Copy(&out, strings.NewReader(src))
		Expect(err).NotTo(HaveOccurred())
		Expect(out.String()).To(Equal("PatientName=[REDACTED:name]\nplain line\r\nMRN: [REDACTED:mrn] DOB: [REDACTED:dob]\nlast line without newline"))
		Expect(st.Lines).To(BeEquivalentTo(4))
		Expect(st.Redactions).To(BeEquivalentTo(3))
		Expect(st.ByRule).To(HaveKeyWithValue("patient-name", BeEquivalentTo(1)))
		Expect(st.ByRule).To(HaveKeyWithValue("mrn", BeEquivalentTo(1)))
		Expect(st.BytesIn).To(BeEquivalentTo(len(src)))
		Expect(st.BytesOut).To(BeEquivalentTo(out.Len()))
	})

	It("splits an over-long line at a separator instead of loading it whole", func() {
		rr, err := redact.New(redact.Config{MaxLineBytes: 1024})
		Expect(err).NotTo(HaveOccurred())
		// 100 KiB without a newline, with identifiers all along it.
		var b strings.Builder
		for b.Len() < 100<<10 {
			b.WriteString("filler filler filler MRN: 12345678 ")
		}
		var out bytes.Buffer
		st, err := rr.Copy(&out, strings.NewReader(b.String()+"\nnext\n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(st.SplitLines).To(BeNumerically(">", 90))
		Expect(out.String()).NotTo(ContainSubstring("12345678"))
		Expect(out.String()).To(HaveSuffix("\nnext\n"))
		Expect(strings.Count(out.String(), "\n")).To(Equal(2), "splitting adds no line breaks")
	})

	It("reports a read error with what it did so far", func() {
		var out bytes.Buffer
		st, err := r.Copy(&out, &failingReader{data: "MRN: 12345678\n"})
		Expect(err).To(MatchError(ContainSubstring("disk gone")))
		Expect(out.String()).To(Equal("MRN: [REDACTED:mrn]\n"))
		Expect(st.Lines).To(BeEquivalentTo(1))
	})
})

var _ = Describe("Redactor configuration", func() {
	It("adds configured patterns, replacing only the value group when there is one", func() {
		r, err := redact.New(redact.Config{Patterns: []redact.Pattern{
			{Name: "accession", Regexp: `Accession(?:Number)?=(?P<value>[A-Z0-9]+)`},
			{Name: "badge", Regexp: `BADGE-\d{6}`, Replacement: "<badge>"},
		}})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Line("AccessionNumber=ACC42 by BADGE-123456 MRN: 1234567")).
			To(Equal("AccessionNumber=[REDACTED:accession] by <badge> MRN: [REDACTED:mrn]"))
	})

	It("runs only the configured patterns when defaults are disabled", func() {
		r, err := redact.New(redact.Config{DisableDefaults: true, Patterns: []redact.Pattern{{Name: "x", Regexp: `secret\d+`}}})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Line("secret42 MRN: 1234567")).To(Equal("[REDACTED:x] MRN: 1234567"))
	})

	DescribeTable("refuses bad configurations with a clear error",
		func(cfg redact.Config, msg string) {
			_, err := redact.New(cfg)
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("bad regexp", redact.Config{Patterns: []redact.Pattern{{Name: "a", Regexp: `(`}}}, `pattern "a"`),
		Entry("empty regexp", redact.Config{Patterns: []redact.Pattern{{Name: "a"}}}, "regexp is empty"),
		Entry("matches empty", redact.Config{Patterns: []redact.Pattern{{Name: "a", Regexp: `x*`}}}, "matches the empty string"),
		Entry("bad name", redact.Config{Patterns: []redact.Pattern{{Name: "a b", Regexp: `x`}}}, "name"),
		Entry("duplicate name", redact.Config{Patterns: []redact.Pattern{{Name: "a", Regexp: `x`}, {Name: "a", Regexp: `y`}}}, "twice"),
		Entry("nothing to do", redact.Config{DisableDefaults: true}, "no patterns"),
		Entry("tiny line limit", redact.Config{MaxLineBytes: 10}, "MaxLineBytes"),
	)
})

type failingReader struct{ data string }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.data == "" {
		return 0, errors.New("disk gone")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}
