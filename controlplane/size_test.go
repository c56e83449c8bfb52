package controlplane

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/iamprop/iamprop/evaluator"
)

// padded spreads doc over lines indented until it has total bytes, as an
// editor's pretty-printer would: the non-white-space content is unchanged.
func padded(doc string, total int) string {
	var b strings.Builder
	extra := total - len(doc)
	for i := 0; i < len(doc); i++ {
		b.WriteByte(doc[i])
		if doc[i] == ',' && extra > 0 {
			n := min(extra, 8)
			b.WriteString("\n" + strings.Repeat(" ", n-1))
			extra -= n
		}
	}
	if extra > 0 {
		b.WriteString(strings.Repeat(" ", extra))
	}
	return b.String()
}

// exact grows compact doc to exactly n bytes with a Sid in its first
// statement (doc must be at least 9 bytes shorter than n).
func exact(doc string, n int) string {
	sid := n - len(doc) - len(`"Sid":"",`)
	if sid < 1 {
		panic(fmt.Sprintf("exact: document already has %d bytes, want %d", len(doc), n))
	}
	return strings.Replace(doc, `[{`, `[{"Sid":"`+strings.Repeat("S", sid)+`",`, 1)
}

// latin1 returns a valid identity/SCP document of about n characters in
// which every resource name carries a Latin-1 letter (two bytes in UTF-8).
func latin1(n int) string {
	var res []string
	for size := 80; size < n; size += 24 {
		res = append(res, fmt.Sprintf(`"arn:aws:s3:::caf%c%06d"`, 'é', size))
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":[` + strings.Join(res, ",") + `]}]}`
}

// verdict classifies an outcome: "ok", "too large" or "malformed".
func verdict(err error, tooLarge ...string) string {
	if err == nil {
		return "ok"
	}
	var ve *evaluator.ValidationError
	if errors.As(err, &ve) {
		for _, is := range ve.Issues {
			if is.Code == evaluator.CodeLimitExceeded {
				return "too large"
			}
		}
		return "malformed"
	}
	var ae *APIError
	if errors.As(err, &ae) {
		for _, c := range tooLarge {
			if ae.Code == c {
				return "too large"
			}
		}
	}
	return "malformed"
}

// TestSizeVerdictMatchesEvaluator requires the control plane's quota checks
// and the evaluator's to reach the same verdict on the same document: one
// definition of each limit and of how it counts.
func TestSizeVerdictMatchesEvaluator(t *testing.T) {
	rcp := func(n int) string {
		var res []string
		for size := 120; size < n; size += 20 {
			res = append(res, fmt.Sprintf(`"arn:aws:s3:::b%06d"`, size))
		}
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":[` + strings.Join(res, ",") + `]}]}`
	}
	orgCall := func(typ string) func(string) Call {
		return func(d string) Call {
			return mk("organizations:CreatePolicy", `{"name":"p","type":"`+typ+`","content":`+str(d)+`}`)
		}
	}
	managed := func(d string) Call {
		return mk("iam:CreatePolicy", `{"policy_name":"Big","policy_document":`+str(d)+`}`)
	}
	trust := func(d string) Call {
		return mk("iam:CreateRole", `{"role_name":"big","assume_role_policy_document":`+str(d)+`}`)
	}
	roleTrust := func(n int) string {
		var ps []string
		for size := 120; size < n; size += 48 {
			ps = append(ps, fmt.Sprintf(`"arn:aws:iam::111122223333:user/u%06d"`, size))
		}
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":[` + strings.Join(ps, ",") + `]},"Action":"sts:AssumeRole"}]}`
	}
	tests := []struct {
		name string
		kind evaluator.Kind
		doc  string
		call func(string) Call
		code string // the control plane's "too large" error code
	}{
		{"SCP compact under the limit", evaluator.KindSCP, exact(big(4000), 5000), orgCall(TypeSCP), ErrConstraintViolation},
		{"SCP compact at the limit", evaluator.KindSCP, exact(big(4000), 5120), orgCall(TypeSCP), ErrConstraintViolation},
		{"SCP compact one byte over the limit", evaluator.KindSCP, exact(big(4000), 5121), orgCall(TypeSCP), ErrConstraintViolation},
		{"SCP of 16,827 bytes, 5,000 of them not white space", evaluator.KindSCP, padded(exact(big(4000), 5000), 16827), orgCall(TypeSCP), ErrConstraintViolation},
		{"SCP padded to exactly the limit", evaluator.KindSCP, padded(exact(big(4000), 4800), 5120), orgCall(TypeSCP), ErrConstraintViolation},
		{"SCP padded one byte over the limit", evaluator.KindSCP, padded(exact(big(4000), 4800), 5121), orgCall(TypeSCP), ErrConstraintViolation},
		{"SCP of 5,112 characters with Latin-1 letters, 5,305 bytes", evaluator.KindSCP, latin1(4700), orgCall(TypeSCP), ErrConstraintViolation},
		{"RCP compact under the limit", evaluator.KindRCP, exact(rcp(4000), 5000), orgCall(TypeRCP), ErrConstraintViolation},
		{"RCP padded over the limit", evaluator.KindRCP, padded(exact(rcp(4000), 5000), 6000), orgCall(TypeRCP), ErrConstraintViolation},
		{"managed policy padded, content under the limit", evaluator.KindBoundary, padded(exact(big(5000), 6000), 12000), managed, ErrLimitExceeded},
		{"managed policy at the limit", evaluator.KindBoundary, exact(big(5000), 6144), managed, ErrLimitExceeded},
		{"managed policy one character over the limit", evaluator.KindBoundary, exact(big(5000), 6145), managed, ErrLimitExceeded},
		{"trust policy padded, content under the limit", evaluator.KindTrust, padded(exact(roleTrust(1500), 2000), 4000), trust, ErrLimitExceeded},
		{"trust policy one character over the limit", evaluator.KindTrust, exact(roleTrust(1500), 2049), trust, ErrLimitExceeded},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, perr := evaluator.Parse("doc", tc.kind, []byte(tc.doc))
			want := verdict(perr)
			if want == "malformed" {
				t.Fatalf("test document is malformed: %v", perr)
			}
			got := verdict(base(t).Validate(tc.call(tc.doc)), tc.code)
			if got != want {
				t.Errorf("evaluator says %s (%d bytes, %d by its count), control plane says %s", want, len(tc.doc), evaluator.Size(tc.kind, []byte(tc.doc)), got)
			}
		})
	}
}
