package replay

import (
	"testing"
)

// FuzzItemDecode: the sorted store's record decoder never panics on
// corrupt bytes, and what encode writes decodes to the same item.
func FuzzItemDecode(f *testing.F) {
	it := item{flags: fRequest | fChange, name: "PutObject", service: "s3", region: "eu-west-1", account: "111122223333",
		bucket: "docs", bucketRegion: "eu-west-1", bucketRank: 2, principal: "anonymous", action: "s3:PutObject",
		resource: "arn:aws:s3:::docs/a", keyID: "AKIA", change: []byte(`{"EventID":"e"}`)}
	f.Add(it.encode(nil))
	f.Add([]byte{fFailed, 0, 3, 'a', 'b', 'c'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &Builder{strs: map[string]string{}}
		got, err := b.decode(data)
		if err != nil {
			return
		}
		again, err := b.decode(got.encode(nil))
		if err != nil {
			t.Fatalf("re-encoded item does not decode: %v", err)
		}
		if again.name != got.name || again.principal != got.principal || string(again.change) != string(got.change) || again.flags != got.flags {
			t.Fatalf("round trip changed the item: %+v -> %+v", got, again)
		}
	})
}
