package server

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/liege-db/liege"
	buildinfo "github.com/liege-db/liege/internal/version"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// infoCollector exports liege_instance_info{id,role,peer,app,version,cluster} = 1.
// It reads the role at every scrape, so that after a promote or a
// switchover the series of the old role is gone at once (a gauge vector
// would have to be told to delete it).
type infoCollector struct {
	db                            *liege.DB
	app, cluster, version, orRole string
	desc                          *prometheus.Desc
}

func newInfoCollector(db *liege.DB, app, cluster, role string) *infoCollector {
	return &infoCollector{db: db, app: app, cluster: cluster, version: buildinfo.Get().Label(), orRole: role,
		desc: prometheus.NewDesc("liege_instance_info",
			"1, labelled with the instance's id, its current role (liege or vassal), its peer's id (empty for a lone instance), "+
				"the application it serves, the build's version and the pair's cluster name (serve --cluster). "+
				"Count role=\"liege\" by cluster to find two lieges.",
			[]string{"id", "role", "peer", "app", "version", "cluster"}, nil)}
}

func (c *infoCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *infoCollector) Collect(ch chan<- prometheus.Metric) {
	role := c.db.Role()
	if role == "" {
		role = c.orRole
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, 1, c.db.ID(), role, c.db.PeerID(), c.app, c.version, c.cluster)
}

// metricsHandler serves reg in the Prometheus text format.
func metricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// MetricsHandler is the handler of `liege serve --metrics-addr`: GET
// /metrics serves reg without authentication, every other path answers
// 404. A scraper then holds no credential of the API (which can call
// procedures and change roles), as with etcd's --listen-metrics-urls.
func MetricsHandler(reg *prometheus.Registry, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(reg, log))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		msg := fmt.Sprintf("no endpoint %s %s here: this is the metrics listener (--metrics-addr), which serves only GET /metrics; the API is on --http", r.Method, r.URL.Path)
		writeJSONError(w, http.StatusNotFound, CodeNotFound, msg)
	})
	return mux
}

// writeJSONError answers a JSON error body like the API's.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(errorBody(code, msg)) // strings only: it cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
