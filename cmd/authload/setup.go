package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/iamprop/iamprop/internal/authworld"
)

const defaultAccount = authworld.Account

// alreadyDone says an error code means a previous setup made the same
// thing: setup runs again against a node that kept its state.
func alreadyDone(code string) bool {
	return strings.Contains(code, "AlreadyExists") || strings.Contains(code, "AlreadyOwned") ||
		strings.HasPrefix(code, "Duplicate")
}

// setup commits authworld.Calls at the node.
func setup(addr, token, acct string, churnUsers int) error {
	cl := &http.Client{Timeout: 30 * time.Second}
	for _, body := range authworld.Calls(acct, churnUsers) {
		var code int
		var out []byte
		// A node that was just started may still be catching up (503):
		// retry for a while.
		for try := 0; ; try++ {
			req, err := http.NewRequest("POST", "http://"+addr+"/v1/mutations", strings.NewReader(body))
			if err != nil {
				return err
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := cl.Do(req)
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			out, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
			if code != http.StatusServiceUnavailable || try >= 50 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if code == http.StatusOK {
			continue
		}
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(out, &e)
		if code == http.StatusBadRequest && alreadyDone(e.Error.Code) {
			continue
		}
		return fmt.Errorf("setup: %s: %d %s", firstLine(body), code, bytes.TrimSpace(out))
	}
	return nil
}

func firstLine(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
