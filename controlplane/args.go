package controlplane

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
)

// Document is a policy-document argument. A caller may pass the document
// itself (a JSON object) or the document serialized in a JSON string, as the
// AWS CLI and SDKs do; both decode to the same bytes when the string holds
// the same text, so the two spellings fold to the same state and digest.
type Document []byte

// CallSpec describes one supported call for the catalog (docs/mutations.md).
type CallSpec struct {
	Action      string    `json:"action"`
	Description string    `json:"description"`
	Args        []ArgSpec `json:"args"`
	Errors      []string  `json:"errors"`
	Revoke      string    `json:"revoke"` // how IsRevoke classifies the call
}

// ArgSpec describes one argument of a call.
type ArgSpec struct {
	Name        string `json:"name"`
	Type        string `json:"type"` // string, boolean, integer, policy document
	Required    bool   `json:"required"`
	Description string `json:"description"`
}

// argField is one decoded field of a typed argument struct.
type argField struct {
	spec  ArgSpec
	index int
	kind  reflect.Kind
	doc   bool
}

var (
	documentType = reflect.TypeOf(Document(nil))
	fieldsCache  sync.Map // reflect.Type -> []argField
)

// fieldsOf reads the `arg` and `doc` struct tags of an argument struct. The
// tags are the single source of both decoding and the catalog, so the
// documentation cannot drift from what the code accepts.
func fieldsOf(t reflect.Type) []argField {
	if f, ok := fieldsCache.Load(t); ok {
		return f.([]argField)
	}
	var out []argField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("arg")
		if tag == "" {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		f := argField{index: i, kind: sf.Type.Kind(), doc: sf.Type == documentType}
		f.spec = ArgSpec{Name: name, Required: opt == "required", Description: sf.Tag.Get("doc")}
		switch {
		case f.doc:
			f.spec.Type = "policy document"
		case f.kind == reflect.String:
			f.spec.Type = "string"
		case f.kind == reflect.Bool:
			f.spec.Type = "boolean"
		case f.kind == reflect.Int:
			f.spec.Type = "integer"
		default:
			panic("controlplane: unsupported argument type " + sf.Type.String()) // programming error, caught by tests
		}
		out = append(out, f)
	}
	fieldsCache.Store(t, out)
	return out
}

// decodeArgs fills the argument struct pointed to by dst from raw. Unknown
// arguments, wrong types and missing required arguments are ValidationError
// APIErrors that name the argument.
func decodeArgs(action string, raw json.RawMessage, dst any) error {
	v := reflect.ValueOf(dst).Elem()
	fields := fieldsOf(v.Type())
	var m map[string]json.RawMessage
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		m = map[string]json.RawMessage{}
	} else if err := json.Unmarshal(trimmed, &m); err != nil {
		return validationErr("%s: arguments (\"with\") must be a JSON object of snake_case parameters: %v", action, err)
	}
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.spec.Name] = true
	}
	var unknown []string
	for k := range m {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		names := make([]string, 0, len(fields))
		for _, f := range fields {
			names = append(names, f.spec.Name)
		}
		return validationErr("%s: unknown argument %q; accepted arguments: %s", action, unknown[0], strings.Join(names, ", "))
	}
	for _, f := range fields {
		r, ok := m[f.spec.Name]
		if !ok || bytes.Equal(bytes.TrimSpace(r), []byte("null")) {
			if f.spec.Required {
				return validationErr("%s: missing required argument %q (%s)", action, f.spec.Name, f.spec.Type)
			}
			continue
		}
		fv := v.Field(f.index)
		switch {
		case f.doc:
			d, err := decodeDocument(r)
			if err != nil {
				return validationErr("%s: argument %q: %v", action, f.spec.Name, err)
			}
			fv.SetBytes(d)
		case f.kind == reflect.String:
			var s string
			if err := json.Unmarshal(r, &s); err != nil {
				return validationErr("%s: argument %q must be a string, got %s", action, f.spec.Name, jsonKind(r))
			}
			if f.spec.Required && s == "" {
				return validationErr("%s: argument %q must not be empty", action, f.spec.Name)
			}
			fv.SetString(s)
		case f.kind == reflect.Bool:
			var b bool
			if err := json.Unmarshal(r, &b); err != nil {
				return validationErr("%s: argument %q must be a boolean (true or false), got %s", action, f.spec.Name, jsonKind(r))
			}
			fv.SetBool(b)
		case f.kind == reflect.Int:
			var n int
			if err := json.Unmarshal(r, &n); err != nil {
				return validationErr("%s: argument %q must be an integer, got %s", action, f.spec.Name, jsonKind(r))
			}
			fv.SetInt(int64(n))
		}
	}
	return nil
}

// decodeDocument accepts a policy document as a JSON object or as a JSON
// string holding the document. The bytes are kept as given (not
// re-formatted), so the evaluator's line:column positions point into the
// caller's own text.
func decodeDocument(r json.RawMessage) ([]byte, error) {
	r = bytes.TrimSpace(r)
	switch {
	case len(r) > 0 && r[0] == '{':
		return append([]byte(nil), r...), nil
	case len(r) > 0 && r[0] == '"':
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	default:
		return nil, fmt.Errorf("must be a policy document (a JSON object, or a JSON string holding one), got %s", jsonKind(r))
	}
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(r json.RawMessage) string {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return "nothing"
	}
	switch r[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// specOf lists the catalog entries for an argument struct type.
func specOf(t reflect.Type) []ArgSpec {
	fs := fieldsOf(t)
	out := make([]ArgSpec, len(fs))
	for i, f := range fs {
		out[i] = f.spec
	}
	return out
}
