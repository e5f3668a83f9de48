package catalog

import "github.com/apache/iceberg-go"

// IOProperties are the FileIO properties of the warehouse, for writers of data files.
func (s *Service) IOProperties() iceberg.Properties {
	out := iceberg.Properties{}
	for k, v := range s.cfg.IOProperties {
		out[k] = v
	}
	return out
}
