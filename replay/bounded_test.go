package replay_test

import "testing"

// TestMemoryBoundedInRecords: the live heap of a replay does not grow
// with the trail's records. Twice the records (the same users, objects
// change and failure rates: twice the requests, suspects, changes and
// failed calls) must not
// hold more than a fixed allowance more: records are sorted on disk and
// the requests streamed, so what remains is the changes, the distinct
// triples and the windows. Holding each request (about 160 bytes) would
// add about 5 MB here (4.8 MB measured before the sort and the
// streaming), holding each failed call about 1 MB.
func TestMemoryBoundedInRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 60,000 records")
	}
	const allowance = 0.75 // MB
	// A small sort buffer, so that both sizes spill many runs to disk.
	_, s1, small := replayGenerated(t, 20_000, 500, 3, 5, t.TempDir(), 1<<20)
	_, s2, large := replayGenerated(t, 40_000, 500, 3, 5, t.TempDir(), 1<<20)
	if s2 <= s1 {
		t.Fatalf("%d then %d suspects: the larger trail should have more", s1, s2)
	}
	if large-small > allowance {
		t.Errorf("live heap %.2f MB for 20,000 records, %.2f MB for 40,000: grew %.2f MB, allowance %.2f MB", small, large, large-small, allowance)
	}
	t.Logf("live heap %.2f MB for 20,000 records, %.2f MB for 40,000; %d and %d suspects", small, large, s1, s2)
}
