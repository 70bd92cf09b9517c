// Package layout holds the test that enforces the repository's dependency
// rules (DESIGN.md, "Layout"): which packages may import, or link, which
// others. It has no code of its own; the rules live in layout_test.go, and
// the import graph comes from `go list`, so a rule is checked against what
// the compiler would build, not against what the source looks like.
package layout
