package trail

import "fmt"

// Error is a decoding error. Record is the index of the record in the
// file's Records (or Events) list, or -1 when the file as a whole is at
// fault (not JSON, truncated gzip, no Records or Events key). Field is the
// record's field at fault, "" when the whole record is.
type Error struct {
	File   string
	Record int
	Field  string
	Reason string
}

// Error renders "FILE: record N: FIELD: REASON".
func (e *Error) Error() string {
	s := e.File + ": "
	if e.Record >= 0 {
		s += fmt.Sprintf("record %d: ", e.Record)
	}
	if e.Field != "" {
		s += e.Field + ": "
	}
	return s + e.Reason
}

func fileErr(file, format string, a ...any) *Error {
	return &Error{File: file, Record: -1, Reason: fmt.Sprintf(format, a...)}
}
