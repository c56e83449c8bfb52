package controlplane

import "fmt"

// APIError is an AWS-style error: a mutation rejected at its origin.
type APIError struct {
	Code    string `json:"code"`    // NoSuchEntity, EntityAlreadyExists, MalformedPolicyDocument, LimitExceeded, DeleteConflict, ...
	Message string `json:"message"` // says which argument and why
}

// Error renders "CODE: MESSAGE".
func (e *APIError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// AWS error codes used by Validate. IAM, S3 and Organizations each spell
// their errors their own way; the codes below are the ones each API returns.
const (
	// IAM
	ErrNoSuchEntity            = "NoSuchEntity"
	ErrEntityAlreadyExists     = "EntityAlreadyExists"
	ErrMalformedPolicyDocument = "MalformedPolicyDocument"
	ErrLimitExceeded           = "LimitExceeded"
	ErrDeleteConflict          = "DeleteConflict"
	ErrInvalidInput            = "InvalidInput"
	ErrValidation              = "ValidationError"
	ErrUnknownAction           = "InvalidAction"
	// S3
	ErrBucketAlreadyExists     = "BucketAlreadyExists"
	ErrBucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
	ErrNoSuchBucket            = "NoSuchBucket"
	ErrMalformedPolicy         = "MalformedPolicy"
	ErrAccessDenied            = "AccessDenied"
	ErrInvalidBucketName       = "InvalidBucketName"
	ErrNoSuchPublicAccessBlock = "NoSuchPublicAccessBlockConfiguration"
	ErrS3InvalidArgument       = "InvalidArgument"
	// Organizations
	ErrOrgAccessDenied            = "AccessDeniedException"
	ErrOrgInvalidInput            = "InvalidInputException"
	ErrDuplicatePolicy            = "DuplicatePolicyException"
	ErrPolicyNotFound             = "PolicyNotFoundException"
	ErrTargetNotFound             = "TargetNotFoundException"
	ErrDuplicatePolicyAttach      = "DuplicatePolicyAttachmentException"
	ErrPolicyNotAttached          = "PolicyNotAttachedException"
	ErrOrgMalformedPolicy         = "MalformedPolicyDocumentException"
	ErrConstraintViolation        = "ConstraintViolationException"
	ErrDuplicateAccount           = "DuplicateAccountException"
	ErrDuplicateOU                = "DuplicateOrganizationalUnitException"
	ErrParentNotFound             = "ParentNotFoundException"
	ErrAccountNotFound            = "AccountNotFoundException"
	ErrPolicyInUse                = "PolicyInUseException"
	ErrOrganizationalUnitNotEmpty = "OrganizationalUnitNotEmptyException"
	ErrOUNotFound                 = "OrganizationalUnitNotFoundException"
)

func apiErr(code, format string, a ...any) *APIError {
	return &APIError{Code: code, Message: fmt.Sprintf(format, a...)}
}

func validationErr(format string, a ...any) *APIError {
	return apiErr(ErrValidation, format, a...)
}
