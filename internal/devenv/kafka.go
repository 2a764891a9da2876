package devenv

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// StartKafka starts a single in-process broker on 127.0.0.1:port (0 picks a free port), with no
// topics: create them with Provision or broker.CreateTopics, as on a real cluster. With dataDir
// set, it keeps its topics, logs and group offsets there, so a broker started again on the same
// directory carries on. extra options (TLS, SASL) are passed on to kfake.
func StartKafka(port int, dataDir string, extra ...kfake.Opt) (*kfake.Cluster, error) {
	opts := []kfake.Opt{
		kfake.Ports(port),
		// Tests and the soak use short sessions so that a killed consumer's partitions move
		// quickly. Kafka's own floor is 6 s; kfake's is configurable.
		kfake.GroupMinSessionTimeout(500 * time.Millisecond),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("start kafka on port %d: %w", port, err)
	}
	return c, nil
}
