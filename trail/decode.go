package trail

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Decode reads one trail file from r and calls fn with each of its records,
// in file order. The file is a CloudTrail log file as delivered to S3 (a
// JSON object whose "Records" list holds the records), or the output of
// `aws cloudtrail lookup-events` (an "Events" list whose entries hold each
// record as a JSON string in "CloudTrailEvent"); either may be
// gzip-compressed, which Decode recognises by its magic number, not by the
// name. Records are decoded one at a time, so a large file is never held
// whole. The first problem stops decoding and is returned as an *Error;
// records passed to fn before it may be discarded by the caller, so a
// caller that must not half-run decodes every file before acting.
func Decode(file string, r io.Reader, fn func(Event) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fileErr(file, "not a valid gzip file: %v", err)
		}
		defer gz.Close()
		in = gz
	}
	dec := json.NewDecoder(in)
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(file, -1, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fileErr(file, "expected a JSON object with a \"Records\" or \"Events\" list, got %s", describe(tok))
	}
	found := ""
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return jsonErr(file, -1, dec, err)
		}
		key, _ := kt.(string)
		switch key {
		case "Records", "Events":
			if found != "" {
				return fileErr(file, "holds both %q and %q; a file is a CloudTrail log file or lookup-events output, not both", found, key)
			}
			found = key
			if err := decodeList(file, dec, key == "Events", fn); err != nil {
				return err
			}
		default:
			// NextToken, and whatever AWS adds: not records.
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return jsonErr(file, -1, dec, err)
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return jsonErr(file, -1, dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return fileErr(file, "data after the JSON object at byte %d", dec.InputOffset())
		}
		return jsonErr(file, -1, dec, err)
	}
	if found == "" {
		return fileErr(file, "neither a CloudTrail log file (a \"Records\" list) nor lookup-events output (an \"Events\" list)")
	}
	return nil
}

// decodeList decodes the records of a Records or Events list.
func decodeList(file string, dec *json.Decoder, lookup bool, fn func(Event) error) error {
	list := "Records"
	if lookup {
		list = "Events"
	}
	tok, err := dec.Token()
	if err != nil {
		return jsonErr(file, -1, dec, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		if tok == nil {
			return fileErr(file, "%s: is null; expected a list of records", list)
		}
		return fileErr(file, "%s: expected a list of records, got %s", list, describe(tok))
	}
	for i := 0; dec.More(); i++ {
		var ev Event
		var e *Error
		if lookup {
			var le struct {
				CloudTrailEvent *string `json:"CloudTrailEvent"`
			}
			if err := dec.Decode(&le); err != nil {
				if isTypeError(err) {
					return &Error{File: file, Record: i, Reason: unmarshalReason(err, "an object with CloudTrailEvent")}
				}
				return jsonErr(file, i, dec, err)
			}
			if le.CloudTrailEvent == nil {
				return &Error{File: file, Record: i, Field: "CloudTrailEvent", Reason: "missing; lookup-events output holds each record as a JSON string there"}
			}
			var w wireRecord
			err := json.Unmarshal([]byte(*le.CloudTrailEvent), &w)
			ev, e = fromWire(&w, err)
			if e != nil {
				e.Field = "CloudTrailEvent" + strings.TrimSuffix("."+e.Field, ".")
			}
		} else {
			// Straight into the record's struct: one pass over the bytes,
			// and the fields iamprop does not keep are skipped, not copied.
			var w wireRecord
			err := dec.Decode(&w)
			if err != nil && !isTypeError(err) {
				return jsonErr(file, i, dec, err)
			}
			ev, e = fromWire(&w, err)
		}
		if e != nil {
			e.File, e.Record = file, i
			return e
		}
		ev.File, ev.Index = file, i
		if err := fn(ev); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return jsonErr(file, -1, dec, err)
	}
	return nil
}

// DecodeRecord decodes one record (a JSON object in CloudTrail's record
// format). The returned *Error names the field but not the file or record.
func DecodeRecord(raw []byte) (Event, error) {
	ev, err := decodeRecord(raw)
	if err != nil {
		return Event{}, err
	}
	return ev, nil
}

func decodeRecord(raw []byte) (Event, *Error) {
	var w wireRecord
	return fromWire(&w, json.Unmarshal(raw, &w))
}

func isTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

// fromWire checks a decoded record (err is its decoding error) and keeps
// what iamprop uses.
func fromWire(wp *wireRecord, err error) (Event, *Error) {
	w := *wp
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Event{}, &Error{Record: -1, Field: te.Field, Reason: fmt.Sprintf("expected %s, got %s", kindName(te.Type.Kind().String()), te.Value)}
		}
		return Event{}, &Error{Record: -1, Reason: unmarshalReason(err, "a JSON object")}
	}
	need := func(field string, v *string) *Error {
		if v == nil || *v == "" {
			return &Error{Record: -1, Field: field, Reason: "missing; every CloudTrail record has one"}
		}
		return nil
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"eventTime", w.EventTime}, {"eventID", w.EventID}, {"eventName", w.EventName}, {"eventSource", w.EventSource}, {"awsRegion", w.AWSRegion}} {
		if e := need(f.name, f.v); e != nil {
			return Event{}, e
		}
	}
	t, err := time.Parse(time.RFC3339Nano, *w.EventTime)
	if err != nil {
		return Event{}, &Error{Record: -1, Field: "eventTime", Reason: fmt.Sprintf("%q is not a UTC time such as 2026-03-06T21:22:54Z", *w.EventTime)}
	}
	ev := Event{
		EventID: *w.EventID, EventName: *w.EventName, EventSource: *w.EventSource,
		EventTime: t.UTC(), AWSRegion: *w.AWSRegion, EventType: w.EventType,
		EventCategory: w.EventCategory, ErrorCode: w.ErrorCode, ErrorMessage: w.ErrorMessage,
		Recipient: w.Recipient,
	}
	switch ro := strings.TrimSpace(string(w.ReadOnly)); ro {
	case "", "null", "false", `"false"`:
	case "true", `"true"`: // older records write it as a string
		ev.ReadOnly = true
	default:
		return Event{}, &Error{Record: -1, Field: "readOnly", Reason: fmt.Sprintf("expected true or false, got %s", ro)}
	}
	if id := w.UserIdentity; id != nil {
		ev.Identity = Identity{Type: id.Type, PrincipalID: id.PrincipalID, ARN: id.ARN, AccountID: id.AccountID, AccessKeyID: id.AccessKeyID, UserName: id.UserName}
		if id.SessionContext != nil && id.SessionContext.SessionIssuer != nil {
			ev.Identity.IssuerARN = id.SessionContext.SessionIssuer.ARN
			ev.Identity.IssuerName = id.SessionContext.SessionIssuer.UserName
		}
	}
	ev.RequestParameters = nonNull(w.RequestParameters)
	ev.ResponseElements = nonNull(w.ResponseElements)
	for _, r := range w.Resources {
		ev.Resources = append(ev.Resources, Resource(r))
	}
	return ev, nil
}

func nonNull(r json.RawMessage) json.RawMessage {
	// bytes, not a string: a conversion would copy every record's
	// parameters once more.
	if s := bytes.TrimSpace(r); len(s) == 0 || string(s) == "null" {
		return nil
	}
	return r
}

// jsonErr turns a json.Decoder error into an *Error with the byte offset.
func jsonErr(file string, record int, dec *json.Decoder, err error) *Error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return &Error{File: file, Record: record, Reason: "truncated: the file ends in the middle of the JSON (a cut-short download or gzip file?)"}
	case errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader):
		return &Error{File: file, Record: record, Reason: "corrupt gzip data: " + err.Error()}
	case errors.As(err, &se):
		return &Error{File: file, Record: record, Reason: fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)}
	}
	return &Error{File: file, Record: record, Reason: err.Error()}
}

func unmarshalReason(err error, want string) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("expected %s, got %s", want, te.Value)
	}
	return "invalid JSON: " + err.Error()
}

func kindName(k string) string {
	switch k {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice":
		return "a list"
	case "bool":
		return "true or false"
	}
	return k
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "a list"
		}
		return string(v)
	case string:
		return "a string"
	case nil:
		return "null"
	case bool:
		return "a boolean"
	}
	return "a number"
}

// Merger merges the records of many files: Add each decoded record, then
// Events returns them ordered by eventTime, ties by eventID, with records
// whose eventID was already seen dropped (CloudTrail can deliver a record
// twice, and lookup-events output overlaps S3 files).
type Merger struct {
	events []Event
	seen   map[string]struct{}
	dups   int
}

// Add records e unless a record with its eventID was added before. Its
// signature fits Decode's callback.
func (m *Merger) Add(e Event) error {
	if m.seen == nil {
		m.seen = map[string]struct{}{}
	}
	if _, ok := m.seen[e.EventID]; ok {
		m.dups++
		return nil
	}
	m.seen[e.EventID] = struct{}{}
	m.events = append(m.events, e)
	return nil
}

// Duplicates is the number of records dropped because their eventID was
// already added.
func (m *Merger) Duplicates() int { return m.dups }

// Events returns the merged records, ordered by eventTime then eventID.
func (m *Merger) Events() []Event {
	sort.SliceStable(m.events, func(i, j int) bool { return Less(&m.events[i], &m.events[j]) })
	return m.events
}

// Less is the trail order: eventTime, then eventID.
func Less(a, b *Event) bool {
	if !a.EventTime.Equal(b.EventTime) {
		return a.EventTime.Before(b.EventTime)
	}
	return a.EventID < b.EventID
}

// DecodePipelined is Decode with the decoding on a goroutine of its own:
// fn runs on the caller's goroutine while the next records are decoded,
// so decoding and what fn does (classifying, sorting) use two cores.
// Records reach fn in file order and an error is returned as Decode
// returns it; an error from fn stops the decoding.
func DecodePipelined(file string, r io.Reader, fn func(Event) error) error {
	const batch = 512
	batches := make(chan []Event, 4)
	stop := make(chan struct{})
	errStopped := errors.New("stopped")
	var decErr error
	go func() {
		defer close(batches)
		buf := make([]Event, 0, batch)
		decErr = Decode(file, r, func(e Event) error {
			buf = append(buf, e)
			if len(buf) < batch {
				return nil
			}
			select {
			case batches <- buf:
				buf = make([]Event, 0, batch)
				return nil
			case <-stop:
				return errStopped
			}
		})
		if len(buf) > 0 && !errors.Is(decErr, errStopped) {
			select {
			case batches <- buf:
			case <-stop:
			}
		}
	}()
	var fnErr error
	for b := range batches {
		if fnErr != nil {
			continue
		}
		for _, e := range b {
			if fnErr = fn(e); fnErr != nil {
				close(stop)
				break
			}
		}
	}
	if fnErr != nil {
		return fnErr
	}
	return decErr
}
