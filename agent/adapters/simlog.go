package adapters

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"
)

// simLog is the simulator's log file: appended every poll, rotated like
// logrotate would (name.1 is the newest old file) when it passes max.
type simLog struct {
	path string
	max  int64
	keep int
}

func (l *simLog) append(now time.Time, lines []string) error {
	if len(lines) == 0 {
		return nil
	}
	var b strings.Builder
	ts := now.UTC().Format("2006-01-02 15:04:05.000")
	for _, ln := range lines {
		b.WriteString(ts)
		b.WriteByte(' ')
		b.WriteString(ln)
		b.WriteByte('\n')
	}
	if fi, err := os.Stat(l.path); err == nil && fi.Size() > 0 && fi.Size()+int64(b.Len()) > l.max {
		if err := l.rotate(); err != nil {
			return fmt.Errorf("rotate: %w", err)
		}
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (l *simLog) rotate() error {
	if err := os.Remove(fmt.Sprintf("%s.%d", l.path, l.keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for i := l.keep - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Rename(l.path, l.path+".1")
}

// Fake patients: invented names in DICOM's Family^Given form, so the
// redaction filter has something realistic to find. None is a real
// person's record.
var fakeNames = []string{"Doe^John", "Roe^Jane^A", "Smith^Anna", "Garcia^Maria", "Nguyen^Van^T",
	"Kowalski^Piotr", "O'Brien^Sean", "Müller^Hans", "Rossi^Giulia", "Okafor^Chidi"}

type fakePatient struct {
	name, mrn, sex string
	dob            time.Time
}

func newFakePatient(r *rand.Rand) fakePatient {
	return fakePatient{
		name: fakeNames[r.IntN(len(fakeNames))],
		mrn:  fmt.Sprintf("%08d", r.IntN(100000000)),
		sex:  []string{"F", "M"}[r.IntN(2)],
		dob:  time.Date(1930+r.IntN(80), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC),
	}
}

// logLine is one routine line for the profile; with patient set it is one
// that carries identifiers the way real device software logs them.
func (s *Simulator) logLine(r *rand.Rand, patient bool) string {
	w := func(name string) float64 { return s.walk(name).v }
	if patient {
		p := newFakePatient(r)
		da := p.dob.Format("20060102")
		if s.cfg.Profile == ProfileLab {
			switch r.IntN(3) {
			case 0:
				return fmt.Sprintf("INFO  [lis] ORU^R01 sent: PID|1||%s^^^LAB^MR||%s||%s|%s", p.mrn, p.name, da, p.sex)
			case 1:
				return fmt.Sprintf("INFO  [lis] Sample S-%d registered for MRN: %s DOB: %s", 100000+r.IntN(900000), p.mrn, p.dob.Format("01/02/2006"))
			default:
				return fmt.Sprintf("INFO  [ui] Order entry PatientName=%s PatientID=%s", p.name, p.mrn)
			}
		}
		switch r.IntN(4) {
		case 0:
			return fmt.Sprintf("INFO  [mwl] Worklist item: (0010,0010) PN [%s] (0010,0020) LO [%s] (0010,0030) DA [%s] (0008,0050) SH [ACC%d]",
				p.name, p.mrn, da, r.IntN(1000000))
		case 1:
			return fmt.Sprintf("INFO  [hl7] ORM^O01 received: PID|1||%s^^^HOSP^MR||%s||%s|%s|||%d Main St^^Springfield^IL^62701||(555)555-%04d",
				p.mrn, p.name, da, p.sex, 1+r.IntN(999), r.IntN(10000))
		case 2:
			return fmt.Sprintf("INFO  [ui] Patient selected: PatientName=%s PatientID=%s", p.name, p.mrn)
		default:
			return fmt.Sprintf("WARN  [dicom] Duplicate study for MRN: %s DOB: %s, merging", p.mrn, p.dob.Format("2006-01-02"))
		}
	}
	if s.cfg.Profile == ProfileLab {
		switch r.IntN(5) {
		case 0:
			return fmt.Sprintf("INFO  [sampler] Sample S-%d aspirated from rack %d pos %d", 100000+r.IntN(900000), 1+r.IntN(20), 1+r.IntN(10))
		case 1:
			assay := []string{"GLU", "CREA", "ALT", "NA", "K", "CRP"}[r.IntN(6)]
			return fmt.Sprintf("INFO  [assay] Test %s on S-%d: result %.2f (flag N)", assay, 100000+r.IntN(900000), 1+r.Float64()*9)
		case 2:
			return fmt.Sprintf("INFO  [qc] QC level %d passed (lot %d)", 1+r.IntN(3), 100000+r.IntN(900000))
		case 3:
			return fmt.Sprintf("DEBUG [incub] temp=%.2fC setpoint=37.00C reagent=%.1f%%", w("incubator.temp"), w("reagent.level"))
		}
	} else {
		switch r.IntN(5) {
		case 0:
			proto := []string{"HEAD_ROUTINE", "CHEST_LOW_DOSE", "ABDOMEN_CONTRAST", "SPINE_L"}[r.IntN(4)]
			return fmt.Sprintf("INFO  [acq] Scan %d completed: protocol=%s slices=%d CTDIvol=%.1f mGy",
				int(s.counters["scans.total"]), proto, 64*(1+r.IntN(8)), 2+r.Float64()*20)
		case 1:
			return fmt.Sprintf("INFO  [recon] Recon job %d finished in %d ms (kernel B%d)", r.IntN(100000), 300+r.IntN(4000), 20+r.IntN(50))
		case 2:
			return fmt.Sprintf("DEBUG [tube] anode=%d rpm tube.temp=%.1fC detector.temp=%.1fC", 9000+r.IntN(1000), w("tube.temp"), w("detector.temp"))
		case 3:
			return fmt.Sprintf("INFO  [dicom] C-STORE to PACS_MAIN: %d instances, status 0x0000", 1+r.IntN(600))
		}
	}
	return fmt.Sprintf("INFO  [sys] cpu=%.0f%% mem=%.0f%% disk=%.1f%%", w("cpu"), w("mem"), w("disk.used"))
}
