package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/quorumlab/quorumlab/pbs"
)

// WARSFile holds the one-way replica latencies a run measured.
const WARSFile = "wars.json"

// WARS is the content of wars.json: per leg (w, a, r, s) the histogram of
// one-way latencies in ms, summed over the nodes that answered.
type WARS struct {
	Legs  map[string][]pbs.Bucket `json:"legs"`
	Nodes []string                `json:"nodes"`
	// Missing names the nodes whose metrics could not be read, and why.
	Missing map[string]string `json:"missing,omitempty"`
}

// Model is the WARS model of the measured legs.
func (w WARS) Model() (pbs.Model, error) {
	var m pbs.Model
	for _, leg := range []struct {
		name string
		d    *pbs.Dist
	}{{"w", &m.W}, {"a", &m.A}, {"r", &m.R}, {"s", &m.S}} {
		e, err := pbs.FromBuckets(w.Legs[leg.name])
		if err != nil {
			return pbs.Model{}, fmt.Errorf("leg %s: %w", leg.name, err)
		}
		*leg.d = e
	}
	return m, nil
}

// ReadWARS reads dir's wars.json; os.ErrNotExist if the run has none.
func ReadWARS(dir string) (WARS, error) {
	b, err := os.ReadFile(filepath.Join(dir, WARSFile))
	if err != nil {
		return WARS{}, err
	}
	var w WARS
	if err := json.Unmarshal(b, &w); err != nil {
		return WARS{}, fmt.Errorf("%s: %w", WARSFile, err)
	}
	if len(w.Legs) == 0 {
		return WARS{}, fmt.Errorf("%s: no latencies: %w", WARSFile, errors.ErrUnsupported)
	}
	return w, nil
}
