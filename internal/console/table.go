package console

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/ankitamadan/patient-profile/internal/audit"
	"github.com/ankitamadan/patient-profile/internal/problem"
	"github.com/ankitamadan/patient-profile/internal/profile"
)

// tablePage is how many rows a page of Table shows.
const tablePage = 50

type tableView struct {
	Rows []profile.Event
	// After is where this page started; Next where the next one starts, empty after the last.
	After, Next string
	// Find is the PatientId looked up, when the page is one row found.
	Find     string
	NotFound bool
	PageSize int
}

// handleTable pages through the table's rows with one Scan of tablePage rows each (Limit and
// ExclusiveStartKey), tombstones marked, or shows one row found by PatientId.
func (c *Console) handleTable() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		v := tableView{After: q.Get("after"), Find: strings.TrimSpace(q.Get("find")), PageSize: tablePage}
		var err error
		switch {
		case v.Find != "":
			if !profile.ValidPatientID(v.Find) {
				c.fail(w, r, problem.InvalidField("the patient id is invalid", "find", profile.PatientIDRule))
				return
			}
			var row profile.Event
			var ok bool
			row, ok, err = c.deps.Table.Get(r.Context(), v.Find)
			if ok {
				v.Rows = []profile.Event{row}
			}
			v.NotFound = !ok
		default:
			v.Rows, v.Next, err = c.deps.Table.Page(r.Context(), tablePage, v.After)
		}
		if err != nil {
			c.fail(w, r, unavailable("the table", err))
			return
		}
		ids := make([]string, 0, len(v.Rows))
		for _, row := range v.Rows {
			ids = append(ids, row.PatientID)
		}
		audit.Log(r.Context(), c.logger, who(r.Context()), "table", slog.String("patient_ids", strings.Join(ids, ",")))
		c.render(w, r, http.StatusOK, "table", view{Title: "Table", Nav: "table", Data: v})
	})
}
