package redact

import (
	"regexp"
	"strings"
)

// Marker kinds: what was there, never what it was.
const (
	kindName    = "name"
	kindID      = "id"
	kindDOB     = "dob"
	kindAddress = "address"
	kindPhone   = "phone"
	kindMRN     = "mrn"
	kindSSN     = "ssn"
	kindEmail   = "email"
)

func defaultRules() []rule {
	return []rule{
		{name: "hl7", apply: redactHL7},
		{name: "dicom-tag", apply: redactDICOMTags},
		labelled("patient-name", kindName, `\b(?:patient'?s?|other[ _-]?patient|patient'?s?[ _-]?(?:mother'?s?[ _-]?)?birth)[ _-]?names?`, nameValue),
		labelled("patient-dob", kindDOB, `\bpatient'?s?[ _-]?birth[ _-]?(?:date|time)`, tokenValue),
		labelled("patient-id", kindID, `\b(?:other[ _-]?)?patient'?s?[ _-]?(?:ids?|identifiers?)`, tokenValue),
		labelled("patient-address", kindAddress, `\bpatient'?s?[ _-]?address`, quotedOnlyValue),
		labelled("patient-phone", kindPhone, `\bpatient'?s?[ _-]?(?:tele)?phone(?:[ _-]?numbers?)?`, tokenValue),
		labelledLoose("mrn", kindMRN, `\b(?:mrn|medical[ _-]?record(?:[ _-]?(?:number|num|nr|no\.?))?|med\.?[ _-]?rec\.?(?:[ _-]?(?:number|num|nr|no\.?))?|patient[ _-]?(?:number|num|nr|no\.?))`, `(?P<value>[A-Za-z]{0,4}-?\d[\d-]{2,19})\b`),
		labelledLoose("dob", kindDOB, `(?:\bdob\b|\bd\.o\.b\.?|\bdate[ _-]of[ _-]birth|\bbirth[ _-]?date|\bbirthdate)`, `(?P<value>`+datePattern+`)`),
		labelledLoose("ssn", kindSSN, `\b(?:ssn|social[ _-]security(?:[ _-](?:number|no\.?))?)`, `(?P<value>\d{3}-?\d{2}-?\d{4})\b`),
		regexRule("email", regexp.MustCompile(`\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b`), marker(kindEmail)),
	}
}

const (
	months = `(?i:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?`
	// datePattern covers ISO, DICOM DA, US/European numeric and written
	// month forms; it is only ever used after a birth-date label.
	datePattern = `\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2}|\d{8}\b|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}\b|\d{1,2}[ \-]` + months + `[ \-,]+\d{2,4}\b|` + months + ` \d{1,2},? \d{4}\b`

	// A label is followed by '=' or ':' (optionally after a closing quote,
	// as in JSON) and then a bracketed, quoted or bare value.
	sep = `["']?\s*[:=]\s*`
	// Bracketed and quoted values are taken whole: that is how dcmdump,
	// pydicom and JSON delimit a value with spaces in it.
	delimited  = `\[(?P<value>[^\]\n]{1,256})\]|"(?P<value>[^"\n]{1,256})"|'(?P<value>[^'\n]{1,256})'`
	tokenValue = delimited + `|(?P<value>[^\s,;|"'\[\]<>]+)`
	// A bare name may be "Doe^John" (one token: take it alone) or "John
	// Doe": the first word, then up to two more capitalised words (a
	// following "PatientID=" is not a word: it has capitals inside).
	nameValue = delimited + `|(?P<value>[^\s,;|"'\[\]<>]*\^[^\s,;|"'\[\]<>]*)` +
		`|(?P<value>[^\s,;|"'\[\]<>]+(?: [A-Z][a-z'\-]*[a-z]\b\.?){0,2})`
	quotedOnlyValue = delimited
)

// labelled builds a rule for "LABEL=value" / "LABEL: value" shapes; the
// label is case-insensitive, the value's shape is not (capitals matter for
// names).
func labelled(name, kind, label, value string) rule {
	re := regexp.MustCompile(`(?i:` + label + `)` + sep + `(?:` + value + `)`)
	return regexRule(name, re, marker(kind))
}

// labelledLoose allows a bare space or '#' between label and value
// ("MRN 12345678", "MRN#12345678", "DOB 1965-04-12"), which is safe only
// because the value must look like a number or a date.
func labelledLoose(name, kind, label, value string) rule {
	re := regexp.MustCompile(`(?i:` + label + `)["']?\s*(?:#|:|=|\bno\.?|\bnumber)?\s*[:#=]?\s*` + value)
	return regexRule(name, re, marker(kind))
}

// HL7 v2 segments and the fields in them that identify a person, by field
// number (PID-5 is the fifth field after the segment name).
var hl7Fields = map[string]map[int]string{
	"PID": {2: kindID, 3: kindID, 4: kindID, 5: kindName, 6: kindName, 7: kindDOB, 9: kindName,
		11: kindAddress, 13: kindPhone, 14: kindPhone, 18: kindID, 19: kindSSN, 20: kindID, 21: kindID},
	"NK1": {2: kindName, 4: kindAddress, 5: kindPhone, 6: kindPhone, 30: kindName, 31: kindPhone,
		32: kindAddress, 33: kindID, 37: kindSSN},
	"MRG": {1: kindID, 2: kindID, 3: kindID, 4: kindID, 7: kindName},
}

var hl7Start = regexp.MustCompile(`(?:PID|NK1|MRG)\|`)

// redactHL7 rewrites identifying fields of PID, NK1 and MRG segments in
// place. Field separators and empty fields are kept, so the segment still
// parses and field numbers still line up.
func redactHL7(s string) (string, int) {
	locs := hl7Start.FindAllStringIndex(s, -1)
	if locs == nil {
		return s, 0
	}
	var b strings.Builder
	last, total := 0, 0
	for _, loc := range locs {
		start := loc[0]
		if start < last || !segmentStart(s[:start]) {
			continue // "XPID|" is not a segment; overlapping is a later field
		}
		fields := hl7Fields[s[start:start+3]]
		end := start + hl7SegmentLen(s[start:])
		parts := strings.Split(s[start:end], "|")
		n := 0
		for i := 1; i < len(parts); i++ {
			kind, ok := fields[i]
			if !ok || parts[i] == "" || parts[i] == `""` || isMarker(parts[i]) {
				continue
			}
			parts[i] = marker(kind)
			n++
		}
		if n == 0 {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(strings.Join(parts, "|"))
		last = end
		total += n
	}
	if total == 0 {
		return s, 0
	}
	b.WriteString(s[last:])
	return b.String(), total
}

// hl7SegmentLen finds where a segment ends: at a real CR or LF, or at the
// way loggers print one ("\r", "<CR>", "\x0d").
func hl7SegmentLen(s string) int {
	end := len(s)
	for _, term := range []string{"\r", "\n", `\r`, `\n`, "<CR>", `\x0d`, `\x0D`} {
		if i := strings.Index(s, term); i >= 0 && i < end {
			end = i
		}
	}
	return end
}

// segmentStart reports whether a segment name may begin after before: at
// the start, after a non-word byte, or after a printed CR.
func segmentStart(before string) bool {
	if before == "" || !isWordByte(before[len(before)-1]) {
		return true
	}
	for _, t := range []string{`\r`, `\n`, `\x0d`, `\x0D`} {
		if strings.HasSuffix(before, t) {
			return true
		}
	}
	return false
}

func isWordByte(c byte) bool {
	return c == '_' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// DICOM patient attributes by tag (group 0010) and what they hold.
var dicomKinds = map[string]string{
	"0010": kindName, "0020": kindID, "0030": kindDOB, "0032": kindDOB, "1000": kindID,
	"1001": kindName, "1005": kindName, "1040": kindAddress, "1060": kindName,
	"2154": kindPhone, "2297": kindName,
}

var dicomTag = regexp.MustCompile(`(?i)[(\[<]?\b0010,\s?(0010|0020|0030|0032|1000|1001|1005|1040|1060|2154|2297)\b[)\]>]?`)

// redactDICOMTags finds the value printed after each patient tag. The
// shapes differ by tool, so this is a small scanner rather than a regexp:
// "[value]" / quoted value right after the tag or its VR (dcmdump), a
// description then "VR: 'value'" (pydicom), or "=value" / ": value".
func redactDICOMTags(s string) (string, int) {
	locs := dicomTag.FindAllStringSubmatchIndex(s, -1)
	if locs == nil {
		return s, 0
	}
	var spans [][2]int
	kinds := map[int]string{}
	for _, loc := range locs {
		a, b, ok := dicomValue(s, loc[1])
		if !ok {
			continue
		}
		spans = append(spans, [2]int{a, b})
		kinds[a] = dicomKinds[s[loc[2]:loc[3]]]
	}
	return replaceSpans(s, spans, func(start int) string { return marker(kinds[start]) })
}

// dicomValue returns the span of the value that follows a tag ending at
// pos, or false when there is none (e.g. "(no value available)").
func dicomValue(s string, pos int) (int, int, bool) {
	i := skipSpaces(s, pos)
	if i < len(s) && (s[i] == '=' || s[i] == ':') {
		return valueAt(s, skipSpaces(s, i+1), true)
	}
	if i < len(s) && (s[i] == '[' || s[i] == '"' || s[i] == '\'') {
		return valueAt(s, i, false)
	}
	// A VR: two capitals followed by a space, a colon or a bracket.
	if i+2 < len(s) && isUpper(s[i]) && isUpper(s[i+1]) && strings.ContainsRune(" :=[", rune(s[i+2])) {
		j := i + 2
		if s[j] == ':' || s[j] == '=' {
			j++
		}
		return valueAt(s, skipSpaces(s, j), true)
	}
	// A description before the value ("Patient's Name   PN: 'Doe^John'"):
	// look a little way ahead for "VR:" or '=' without crossing into the
	// next tag or field.
	limit := min(len(s), i+80)
	for j := i; j < limit; j++ {
		switch c := s[j]; {
		case c == '(' || c == '|' || c == '[':
			return 0, 0, false
		case c == '=' || c == ':':
			return valueAt(s, skipSpaces(s, j+1), true)
		}
	}
	return 0, 0, false
}

// valueAt reads a bracketed or quoted value at i, or, when bare is set, a
// single token.
func valueAt(s string, i int, bare bool) (int, int, bool) {
	if i >= len(s) {
		return 0, 0, false
	}
	if closer, ok := map[byte]byte{'[': ']', '"': '"', '\'': '\''}[s[i]]; ok {
		j := strings.IndexByte(s[i+1:], closer)
		if j <= 0 {
			return 0, 0, false // empty value or unterminated
		}
		return i + 1, i + 1 + j, true
	}
	if !bare || s[i] == '(' {
		return 0, 0, false
	}
	j := i
	for j < len(s) && !strings.ContainsRune(" \t,;|\"'[]<>()", rune(s[j])) {
		j++
	}
	return i, j, j > i
}

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
