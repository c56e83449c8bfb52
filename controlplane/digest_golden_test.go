package controlplane

import (
	"encoding/hex"
	"fmt"
	"testing"
)

// TestDigestGolden pins the digest of a state that has every kind of
// record: the digest is in reports and in the API's answers, so a faster
// encoder must write the same bytes (a new encoding is a new
// digestVersion, and a new value here).
func TestDigestGolden(t *testing.T) {
	s := authWorld(t)
	for i := range 50 {
		mustApply(t, s, mk("s3:PutObject", fmt.Sprintf(`{"bucket":"docs","key":"k%d"}`, i)))
	}
	mustApply(t, s,
		mk("organizations:CreateOrganizationalUnit", `{"name":"prod"}`),
		mk("organizations:CreatePolicy", `{"name":"deny-s3","type":"SERVICE_CONTROL_POLICY","content":`+denyDocs+`}`),
		mk("organizations:AttachPolicy", `{"policy_id":"deny-s3","target_id":"ou:prod"}`),
		mk("iam:CreatePolicy", `{"policy_name":"Big","policy_document":`+big(5000)+`}`),
		mk("iam:DeleteUser", `{"user_name":"mallory"}`),
	)
	got := s.Digest()
	if c := freshDigest(s.Clone()); c != got {
		t.Errorf("computed again: %x, first %x", c, got)
	}
	const want = "3a6789ffb4bec48986db17a90e3626c67a65e0244ef94bbf82b75ef1aa24fa9d"
	if h := hex.EncodeToString(got[:]); h != want {
		t.Errorf("digest %s, want %s", h, want)
	}
}
