package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/ankitamadan/patient-profile/internal/audit"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// tryForm is the try-it form's fields, as typed.
type tryForm struct {
	Method                              string
	PatientID, FirstName, LastName, Sex string
	IsPregnant                          string
	Sexes                               []string
	Status                              int
	Answer                              shown
	Sent                                bool
}

var sexes = []string{"female", "male", "other", "unknown"}

// handleTryForm shows the form.
func (c *Console) handleTryForm() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := tryForm{Method: http.MethodPost, PatientID: r.URL.Query().Get("id"), IsPregnant: "false",
			Sex: "unknown", Sexes: sexes}
		c.render(w, r, http.StatusOK, "try", view{Title: "Try it", Nav: "try", Data: f})
	})
}

// handleTry sends the form to the producer's API, POST /patientprofile or DELETE
// /patientprofile/{id}, with the console's API token when it has one, and shows the answer, so a
// person can follow the update to Messages, the timeline and the table. The producer validates
// it: the console passes it on as typed.
func (c *Console) handleTry() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := c.access.checkWrite(r); err != nil {
			c.fail(w, r, err)
			return
		}
		f := tryForm{Method: r.PostFormValue("method"), PatientID: r.PostFormValue("PatientId"),
			FirstName: r.PostFormValue("FirstName"), LastName: r.PostFormValue("LastName"),
			Sex: r.PostFormValue("Sex"), IsPregnant: r.PostFormValue("IsPregnant"), Sexes: sexes, Sent: true}
		var req *http.Request
		var err error
		switch f.Method {
		case http.MethodPost:
			body, _ := json.Marshal(map[string]string{ // strings always marshal
				"PatientId": f.PatientID, "FirstName": f.FirstName, "LastName": f.LastName,
				"IsPregnant": f.IsPregnant, "Sex": f.Sex,
			})
			req, err = http.NewRequestWithContext(r.Context(), http.MethodPost, c.cfg.ProducerURL+"/patientprofile",
				bytes.NewReader(body))
			if req != nil {
				req.Header.Set("Content-Type", "application/json")
			}
		case http.MethodDelete:
			req, err = http.NewRequestWithContext(r.Context(), http.MethodDelete,
				c.cfg.ProducerURL+"/patientprofile/"+url.PathEscape(f.PatientID), http.NoBody)
		default:
			c.fail(w, r, problem.InvalidField("the method is not POST or DELETE", "method", "must be POST or DELETE"))
			return
		}
		if err != nil {
			c.fail(w, r, fmt.Errorf("try: %w", err))
			return
		}
		if c.cfg.APIToken != "" {
			req.Header.Set("Authorization", "Bearer "+c.cfg.APIToken)
		}
		resp, err := c.deps.HTTP.Do(req)
		if err != nil {
			c.fail(w, r, unavailable("the producer", err))
			return
		}
		defer func() { _ = resp.Body.Close() }()
		answer, err := io.ReadAll(io.LimitReader(resp.Body, maxShown+1))
		if err != nil {
			c.fail(w, r, unavailable("the producer", err))
			return
		}
		f.Status, f.Answer = resp.StatusCode, show(answer)
		if profile.ValidPatientID(f.PatientID) {
			audit.Log(r.Context(), c.logger, who(r.Context()), "try", slog.String("patient_id", f.PatientID),
				slog.String("method", f.Method), slog.Int("status", resp.StatusCode))
		} else {
			audit.Log(r.Context(), c.logger, who(r.Context()), "try", slog.String("method", f.Method),
				slog.Int("status", resp.StatusCode))
		}
		c.render(w, r, http.StatusOK, "try", view{Title: "Try it", Nav: "try", Data: f})
	})
}

// statusClass is how a page colours an answer's status.
func statusClass(status int) string {
	switch {
	case status >= 200 && status < 300:
		return "ok"
	case status >= 500:
		return "bad"
	}
	return "warn"
}
