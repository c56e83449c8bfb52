package controlplane

import "encoding/json"

// Call is one mutation's request: the AWS API action and its arguments in
// snake_case, as in a scenario step or a POST /v1/mutations body.
type Call struct {
	Action  string          `json:"call"`              // "s3:PutBucketPolicy"
	Account string          `json:"account,omitempty"` // calling account; "" = the state's default account
	Region  string          `json:"region,omitempty"`  // origin region (s3:CreateBucket's home region)
	Args    json.RawMessage `json:"with"`              // JSON object; a policy argument is the document itself (object) or a JSON string
}
