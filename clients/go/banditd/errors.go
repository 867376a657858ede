package banditd

import (
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is a failed banditd call. It keeps the server's gRPC status, so
// status.Code(err), status.FromError(err) and errors.Is(err, ErrNotFound)
// all work on errors returned by this package.
type Error struct {
	// Method is the RPC that failed, for example "Sample".
	Method string
	status *status.Status
}

// Sentinel errors for errors.Is; they compare by gRPC code only:
//
//	if errors.Is(err, banditd.ErrNotFound) { ... }
var (
	ErrInvalidArgument    = &Error{status: status.New(codes.InvalidArgument, "invalid argument")}
	ErrNotFound           = &Error{status: status.New(codes.NotFound, "not found")}
	ErrAlreadyExists      = &Error{status: status.New(codes.AlreadyExists, "already exists")}
	ErrUnavailable        = &Error{status: status.New(codes.Unavailable, "unavailable")}
	ErrDeadlineExceeded   = &Error{status: status.New(codes.DeadlineExceeded, "deadline exceeded")}
	ErrResourceExhausted  = &Error{status: status.New(codes.ResourceExhausted, "resource exhausted")}
	ErrFailedPrecondition = &Error{status: status.New(codes.FailedPrecondition, "failed precondition")}
)

// Error returns "Method: Code: message".
func (e *Error) Error() string {
	if e.Method == "" {
		return fmt.Sprintf("%s: %s", e.status.Code(), e.status.Message())
	}
	return fmt.Sprintf("%s: %s: %s", e.Method, e.status.Code(), e.status.Message())
}

// GRPCStatus returns the gRPC status (used by status.FromError and status.Code).
func (e *Error) GRPCStatus() *status.Status { return e.status }

// Code returns the gRPC status code.
func (e *Error) Code() codes.Code { return e.status.Code() }

// Message returns the server's error message, which for INVALID_ARGUMENT
// names the offending field (for example "events[3].arm_id: ...").
func (e *Error) Message() string { return e.status.Message() }

// FieldViolation is one request field at fault, from the
// google.rpc.BadRequest in the status details.
type FieldViolation struct {
	// Field is the field's path, for example "events[3].arm_id".
	Field string
	// Description says what is wrong with it.
	Description string
}

// FieldViolations returns the request fields at fault, read from the
// status's google.rpc.BadRequest details; nil when no field is (for example
// UNAVAILABLE). Callers need not parse Message:
//
//	var be *banditd.Error
//	if errors.As(err, &be) {
//		for _, v := range be.FieldViolations() { log.Print(v.Field, v.Description) }
//	}
func (e *Error) FieldViolations() []FieldViolation {
	var out []FieldViolation
	for _, d := range e.status.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	return out
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, ErrNotFound) matches any NOT_FOUND error.
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.status.Code() == e.status.Code()
}

func wrapError(method string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		st = status.FromContextError(err)
	}
	return &Error{Method: method, status: st}
}
