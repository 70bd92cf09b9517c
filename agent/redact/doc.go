// Package redact filters patient identifiers out of device log files
// before the agent uploads them, so that "no patient information leaves
// the device" holds even for logs the device vendor never meant to leave
// the hospital.
//
// A Redactor runs a list of rules over each line: the built-in defaults
// (unless disabled) and any configured patterns. It favours precision over
// recall: the defaults only fire on identifiers that are labelled or sit in
// a known field, so timestamps, error codes, hex addresses, version
// numbers and UIDs pass untouched and a service engineer can still read the
// log.
//
// Caught by the defaults:
//
//   - HL7 v2 PID, NK1 and MRG segments (field separator '|'): identifier,
//     name, birth date, address, phone, account, SSN and licence fields
//     are emptied of content and replaced by a marker, keeping every field
//     separator so the segment still parses (PID-2/3/4/5/6/7/9/11/13/14/
//     18/19/20/21, NK1-2/4/5/6/30/31/32/33/37, MRG-1/2/3/4/7). A segment
//     ends at a carriage return, a newline, or a printed "\r" or "<CR>".
//   - DICOM patient attributes written by tag, with or without VR, as
//     dcmdump ("(0010,0010) PN [Doe^John]"), pydicom ("(0010, 0010)
//     Patient's Name  PN: 'Doe^John'") or "tag=value" print them: name
//     (0010,0010), ID (0010,0020), birth date/time (0010,0030/0032), other
//     IDs/names (0010,1000/1001), birth name (0010,1005), address
//     (0010,1040), mother's birth name (0010,1060), phone (0010,2154),
//     responsible person (0010,2297).
//   - The same attributes by keyword: PatientName=, PatientID:, "Patient's
//     Name": …, patient_birth_date=, OtherPatientIDs=… (bracketed, quoted
//     or single-token values; a bare name also takes up to two following
//     capitalised words, so "Patient Name: John Doe" is caught whole).
//   - MRN-like numbers after a label: "MRN: 12345678", "MRN#12345678",
//     "medical record number 12345", "Med Rec No. A-1234", "Patient No 77".
//   - Dates of birth after a label: DOB, D.O.B., date of birth, birth date,
//     birthdate; as 1965-04-12, 1965/04/12, 19650412, 04/12/1965,
//     12.04.65, 12 Apr 1965, April 12, 1965.
//   - Social security numbers after a label (SSN, social security number).
//   - E-mail addresses.
//
// Not caught (by design or for lack of a reliable shape): names and
// numbers in free text without a label ("scanned John Doe"), HL7 segments
// other than PID/NK1/MRG (OBX free text, PV1 doctors), HL7 with a field
// separator other than '|', DICOM accession numbers and UIDs, bare names
// with spaces after a DICOM tag without brackets or quotes, phone numbers
// and addresses outside the fields above, identifiers split across two
// physical lines, and an identifier that straddles the point where an
// over-long line is split (the split is made at a space or '|' when one is
// near, which makes that rare). Add Patterns for site-specific shapes.
package redact
