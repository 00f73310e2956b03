package service

import (
	"fmt"
	"io"

	"mamori/appliance/config"
	"mamori/pipeline/event"
	"mamori/pipeline/worker"
)

// detectStage builds the records stage of a replay when o.Detect is set;
// otherwise it returns out unchanged and a nil stage.
func detectStage(o ReplayOptions, cfg *config.Config, out worker.Output) (worker.Output, *Stage, error) {
	if o.Detect == nil {
		return out, nil, nil
	}
	st, err := NewStage(cfg, *o.Detect, out)
	if err != nil {
		return nil, nil, err
	}
	return st.Record, st, nil
}

// finishReplay is Finish for a possibly nil stage.
func (s *Stage) finishReplay() error {
	if s == nil {
		return nil
	}
	return s.Finish()
}

// summary adds the stage's counters to the run's summary record.
func (s *Stage) summary(m *event.Metric) *event.Metric {
	if s != nil {
		m.Groups = append(m.Groups, s.MetricGroups()...)
	}
	return m
}

// printAlerts prints the alert table and counts after a replay's summary.
func (s *Stage) printAlerts(w io.Writer) {
	if s == nil {
		return
	}
	c := s.counts
	alerts := s.Alerts()
	var sev [5]int
	for _, a := range alerts {
		sev[min(max(a.Severity, 0), 4)]++
	}
	fmt.Fprintf(w, "  alerts: %d (%d critical, %d high, %d medium, %d low)", c.Episodes, sev[4], sev[3], sev[2], sev[1])
	if c.Alerts > c.Episodes {
		fmt.Fprintf(w, ", %d updates", c.Alerts-c.Episodes)
	}
	if s.model != nil && s.learn {
		fmt.Fprintf(w, "; baseline learned %s observations (%s dropped as alerted traffic)", group(c.Learned), group(c.Dropped))
	}
	fmt.Fprintln(w)
	WriteAlertTable(w, alerts, s.site.Location(), false)
}
