package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ankitamadan/patient-profile/internal/profile"
)

const (
	maxBodyBytes     = 64 << 10
	maxPatientIDSize = 1024
	// retryAfter is what a 503 tells the client to wait, in seconds.
	retryAfter = 1
)

// profileRequest is a valid POST /patientprofile body. Fields the server stamps (EventId,
// UpdatedAt) are not read from the client.
type profileRequest struct {
	PatientID  string
	FirstName  string
	LastName   string
	IsPregnant bool
	Sex        string
}

// profileResponse is the 201 body: enough for the client to recognise its event downstream.
type profileResponse struct {
	EventID   string `json:"EventId"`
	PatientID string `json:"PatientId"`
	UpdatedAt string `json:"UpdatedAt"`
}

func handlePostProfile(logger *slog.Logger, pub publisher, s *stamper, publishTimeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fields, err := decode(w, r)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				encode(w, http.StatusRequestEntityTooLarge, problem{Error: "invalid request", Fields: map[string]string{"body": fmt.Sprintf("must be at most %d bytes", maxBodyBytes)}})
				return
			}
			var fe *fieldError
			if errors.As(err, &fe) {
				encode(w, http.StatusBadRequest, problem{Error: "invalid request", Fields: map[string]string{fe.field: fe.problem}})
				return
			}
			encode(w, http.StatusBadRequest, problem{Error: "invalid request", Fields: map[string]string{"body": err.Error()}})
			return
		}
		req, problems := validate(fields)
		if len(problems) > 0 {
			encode(w, http.StatusBadRequest, problem{Error: "invalid request", Fields: problems})
			return
		}

		updatedAt, eventID := s.stamp()
		e := profile.Event{
			EventID:    eventID,
			PatientID:  req.PatientID,
			FirstName:  req.FirstName,
			LastName:   req.LastName,
			IsPregnant: req.IsPregnant,
			Sex:        req.Sex,
			UpdatedAt:  updatedAt,
		}
		// The request's own context would let a client that hangs up abandon a publish
		// half-way; the timeout alone decides, so the answer (had it been read) is always true.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), publishTimeout)
		defer cancel()
		if err := pub.Publish(ctx, e); err != nil {
			logger.LogAttrs(r.Context(), slog.LevelError, "publish failed",
				slog.String("event_id", e.EventID), slog.String("patient_id", e.PatientID), slog.String("error", err.Error()))
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			encode(w, http.StatusServiceUnavailable, problem{Error: "the event was not published: the broker is unavailable, retry later"})
			return
		}
		encode(w, http.StatusCreated, profileResponse{
			EventID:   e.EventID,
			PatientID: e.PatientID,
			UpdatedAt: e.UpdatedAt.Format(time.RFC3339Nano),
		})
	})
}

// decode reads the body as one JSON object and returns its raw fields, so that validate can
// report every bad field at once rather than the first one encoding/json meets. It refuses a name
// given twice (which value wins depends on the parser, so a request could pass one check and do
// something else downstream) and a name that matches a contract name only when case is ignored
// (encoding/json would read "patientid" as PatientId; the contract's names are exact), each as a
// *fieldError.
func decode(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	tok, err := dec.Token()
	if err != nil {
		return nil, decodeError(err)
	}
	if tok != json.Delim('{') {
		return nil, fmt.Errorf("must be a JSON object, got %s", tokenKind(tok))
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, decodeError(err)
		}
		name := tok.(string) // inside an object, Token returns names as strings
		if _, dup := fields[name]; dup {
			return nil, &fieldError{field: name, problem: "appears more than once"}
		}
		for _, c := range contractNames {
			if name != c && strings.EqualFold(name, c) {
				return nil, &fieldError{field: name, problem: fmt.Sprintf("names are case-sensitive, the contract's is %q", c)}
			}
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, decodeError(err)
		}
		fields[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("malformed JSON: more than one value")
	}
	return fields, nil
}

// contractNames are the request's fields and the ones the server stamps.
var contractNames = []string{"PatientId", "FirstName", "LastName", "IsPregnant", "Sex", "EventId", "UpdatedAt"}

// fieldError is a problem with one named field that decode finds.
type fieldError struct{ field, problem string }

func (e *fieldError) Error() string { return fmt.Sprintf("field %q %s", e.field, e.problem) }

func decodeError(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return err
	case errors.Is(err, io.EOF):
		return errors.New("is empty, want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of input")
	default:
		return fmt.Errorf("malformed JSON: %v", err)
	}
}

// tokenKind names the type of the JSON value that starts with tok.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case json.Delim:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "a number"
	}
}

// validate checks each field and returns the request, or what is wrong, by field name.
func validate(fields map[string]json.RawMessage) (profileRequest, map[string]string) {
	var req profileRequest
	problems := map[string]string{}

	id, err := optionalString(fields["PatientId"])
	switch {
	case err != nil:
		problems["PatientId"] = err.Error()
	case strings.TrimSpace(id) == "":
		problems["PatientId"] = "is required and must not be empty"
	case len(id) > maxPatientIDSize:
		problems["PatientId"] = fmt.Sprintf("must be at most %d bytes", maxPatientIDSize)
	default:
		req.PatientID = id
	}
	for name, dst := range map[string]*string{"FirstName": &req.FirstName, "LastName": &req.LastName, "Sex": &req.Sex} {
		v, err := optionalString(fields[name])
		if err != nil {
			problems[name] = err.Error()
			continue
		}
		*dst = v
	}
	pregnant, err := flexibleBool(fields["IsPregnant"])
	if err != nil {
		problems["IsPregnant"] = err.Error()
	}
	req.IsPregnant = pregnant
	return req, problems
}

// optionalString decodes a string field; absent and null mean "".
func optionalString(raw json.RawMessage) (string, error) {
	if isAbsent(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("must be a string, got %s", jsonKind(raw))
	}
	return s, nil
}

// flexibleBool takes a JSON boolean or the strings "true"/"false" in any case, because the
// original clients send "False". Absent and null mean false.
func flexibleBool(raw json.RawMessage) (bool, error) {
	if isAbsent(raw) {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf(`must be true or false (a JSON boolean or the string "true"/"false"), got %q`, s)
	}
	return false, fmt.Errorf(`must be true or false (a JSON boolean or the string "true"/"false"), got %s`, jsonKind(raw))
}

func isAbsent(raw json.RawMessage) bool {
	return raw == nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// jsonKind names a JSON value's type for an error message, without echoing the value.
func jsonKind(raw json.RawMessage) string {
	switch b := bytes.TrimSpace(raw); {
	case len(b) == 0:
		return "nothing"
	case b[0] == '"':
		return "a string"
	case b[0] == '{':
		return "an object"
	case b[0] == '[':
		return "an array"
	case b[0] == 't' || b[0] == 'f':
		return "a boolean"
	default:
		return "a number"
	}
}
