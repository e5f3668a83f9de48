package gateway

// SetListScan sets how many rows one listing request examines at most.
func SetListScan(s *Server, rows int) { s.listScan = rows }
