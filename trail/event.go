package trail

import (
	"encoding/json"
	"time"
)

// Event is one CloudTrail record, reduced to the fields iamprop uses. The
// field names follow CloudTrail's record contents.
type Event struct {
	File  string // the file it was read from, for messages
	Index int    // its position in the file's Records (or Events), from 0

	EventID       string
	EventName     string // "PutBucketPolicy"
	EventSource   string // "s3.amazonaws.com"
	EventTime     time.Time
	AWSRegion     string // the region of the endpoint that served the call
	EventType     string // AwsApiCall, AwsServiceEvent, AwsConsoleSignIn, ...
	EventCategory string // Management, Data, Insight, NetworkActivity
	ReadOnly      bool
	ErrorCode     string // set when the call failed
	ErrorMessage  string
	Recipient     string // recipientAccountId
	Identity      Identity
	// RequestParameters and ResponseElements are kept raw: their shape
	// depends on the call, and only the mapped calls need them.
	RequestParameters json.RawMessage
	ResponseElements  json.RawMessage
	Resources         []Resource
}

// Identity is a record's userIdentity: who made the request.
type Identity struct {
	Type        string // IAMUser, AssumedRole, Root, AWSService, ...
	PrincipalID string
	ARN         string
	AccountID   string
	AccessKeyID string
	UserName    string
	// IssuerARN and IssuerName come from sessionContext.sessionIssuer: the
	// role (or user) whose credentials an AssumedRole session uses.
	IssuerARN  string
	IssuerName string
}

// Resource is one entry of a record's resources list.
type Resource struct {
	ARN       string
	AccountID string
	Type      string
}

// Failed reports whether the call was refused (the record has an errorCode).
func (e Event) Failed() bool { return e.ErrorCode != "" }

// Service returns the service prefix of eventSource ("iam" for
// "iam.amazonaws.com").
func (e Event) Service() string {
	for i := 0; i < len(e.EventSource); i++ {
		if e.EventSource[i] == '.' {
			return e.EventSource[:i]
		}
	}
	return e.EventSource
}

// wireRecord is the JSON shape of a record as CloudTrail writes it.
type wireRecord struct {
	EventID           *string         `json:"eventID"`
	EventName         *string         `json:"eventName"`
	EventSource       *string         `json:"eventSource"`
	EventTime         *string         `json:"eventTime"`
	AWSRegion         *string         `json:"awsRegion"`
	EventType         string          `json:"eventType"`
	EventCategory     string          `json:"eventCategory"`
	ReadOnly          json.RawMessage `json:"readOnly"`
	ErrorCode         string          `json:"errorCode"`
	ErrorMessage      string          `json:"errorMessage"`
	Recipient         string          `json:"recipientAccountId"`
	UserIdentity      *wireIdentity   `json:"userIdentity"`
	RequestParameters json.RawMessage `json:"requestParameters"`
	ResponseElements  json.RawMessage `json:"responseElements"`
	Resources         []wireResource  `json:"resources"`
}

type wireIdentity struct {
	Type           string `json:"type"`
	PrincipalID    string `json:"principalId"`
	ARN            string `json:"arn"`
	AccountID      string `json:"accountId"`
	AccessKeyID    string `json:"accessKeyId"`
	UserName       string `json:"userName"`
	SessionContext *struct {
		SessionIssuer *struct {
			ARN      string `json:"arn"`
			UserName string `json:"userName"`
		} `json:"sessionIssuer"`
	} `json:"sessionContext"`
}

type wireResource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
}
