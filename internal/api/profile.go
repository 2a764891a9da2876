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
// report every bad field at once rather than the first one encoding/json meets.
func decode(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		var tooLarge *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooLarge):
			return nil, err
		case errors.As(err, &typeErr):
			return nil, fmt.Errorf("must be a JSON object, got %s", typeErr.Value)
		case errors.Is(err, io.EOF):
			return nil, errors.New("is empty, want a JSON object")
		default:
			return nil, fmt.Errorf("malformed JSON: %v", err)
		}
	}
	if fields == nil {
		return nil, errors.New("must be a JSON object, got null")
	}
	if dec.More() {
		return nil, errors.New("malformed JSON: more than one value")
	}
	return fields, nil
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
