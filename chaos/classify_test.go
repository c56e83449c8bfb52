package chaos

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/iamprop/iamprop/apiclient"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		want Outcome
		code string
	}{
		{nil, Acked, ""},
		{&apiclient.Error{Status: 400, Code: "NoSuchEntity"}, Failed, "NoSuchEntity"},
		{&apiclient.Error{Status: 503, Code: "CatchingUp"}, Failed, "CatchingUp"},
		{&apiclient.Error{Status: 503, Code: codeNodeDown}, Failed, "refused"},
		{&apiclient.Error{Status: 503, Code: "ServiceUnavailable"}, Unknown, "ServiceUnavailable"},
		{&apiclient.Error{Status: 500, Code: "InternalError"}, Unknown, "InternalError"},
		{fmt.Errorf("api: POST /v1/mutations: %w", syscall.ECONNREFUSED), Failed, "refused"},
		{fmt.Errorf("api: POST /v1/mutations: %w", io.ErrUnexpectedEOF), Unknown, "transport"},
		{fmt.Errorf("api: POST /v1/mutations: %w", context.DeadlineExceeded), Unknown, "transport"},
	}
	for _, tt := range tests {
		o, code := classify(tt.err)
		if o != tt.want || code != tt.code {
			t.Errorf("classify(%v) = %s, %q; want %s, %q", tt.err, o, code, tt.want, tt.code)
		}
	}
}
