// Package metricstest reads Prometheus metrics in tests: a registry's
// samples, or a scrape's text, as a map from series to value.
package metricstest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series maps a series, written name{label="value",...} with the labels
// sorted by name (just name without labels), to its value. Histograms and
// summaries give their _count and _sum.
type Series map[string]float64

// Gather collects g.
func Gather(t testing.TB, g prometheus.Gatherer) Series {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	return fromFamilies(mfs)
}

// Parse reads the Prometheus text format (a /metrics answer).
func Parse(r io.Reader) (Series, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse the Prometheus text format: %w", err)
	}
	return fromFamilies(slices.Collect(maps.Values(fams))), nil
}

func fromFamilies(mfs []*dto.MetricFamily) Series {
	out := Series{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			slices.Sort(ls)
			key := func(name string) string {
				if len(ls) == 0 {
					return name
				}
				return name + "{" + strings.Join(ls, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key(mf.GetName())] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key(mf.GetName())] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				out[key(mf.GetName())] = m.GetUntyped().GetValue()
			case m.Histogram != nil:
				out[key(mf.GetName()+"_count")] = float64(m.GetHistogram().GetSampleCount())
				out[key(mf.GetName()+"_sum")] = m.GetHistogram().GetSampleSum()
			case m.Summary != nil:
				out[key(mf.GetName()+"_count")] = float64(m.GetSummary().GetSampleCount())
				out[key(mf.GetName()+"_sum")] = m.GetSummary().GetSampleSum()
			}
		}
	}
	return out
}

// Names returns the metric names present, as a set (histograms and
// summaries under their _count, _sum and _bucket names and their own).
func (s Series) Names() map[string]bool {
	out := map[string]bool{}
	for k := range s {
		name, _, _ := strings.Cut(k, "{")
		out[name] = true
		for _, suf := range []string{"_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suf); ok {
				out[base] = true
				out[base+"_bucket"] = true
			}
		}
	}
	return out
}

// With returns the series of the metric name whose labels include every
// label="value" pair given, e.g. With("liege_instance_info", `role="liege"`).
func (s Series) With(name string, labels ...string) Series {
	out := Series{}
	for k, v := range s {
		n, rest, _ := strings.Cut(k, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range labels {
			if !strings.Contains(","+strings.TrimSuffix(rest, "}")+",", ","+l+",") {
				ok = false
			}
		}
		if ok {
			out[k] = v
		}
	}
	return out
}
