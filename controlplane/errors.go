package controlplane

import "fmt"

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
