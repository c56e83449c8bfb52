package controlplane

import (
	"encoding/hex"
	"fmt"
	"testing"
)

// TestDigestGolden pins the digest of a state that has every kind of
// record: the digest is in reports and on the wire, so a faster encoder
// must write the same bytes.
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
	if c := s.Clone().computeDigest(); c != got {
		t.Errorf("computed again: %x, first %x", c, got)
	}
	const want = "bd414762a7f4e79249c9cc31f396bfdc84ab8ea3fdb494c306e54dae3a178997"
	if h := hex.EncodeToString(got[:]); h != want {
		t.Errorf("digest %s, want %s", h, want)
	}
}
