package membership

import (
	"context"
	"log/slog"
	"strings"
)

// slogWriter turns memberlist's log lines ("[WARN] memberlist: …") into
// slog records at the matching level. memberlist only takes a *log.Logger.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	level, msg := parseLine(string(p))
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// parseLine splits a memberlist log line into its level and message.
// Unmarked lines are errors: memberlist prints a few of those on failures.
func parseLine(line string) (slog.Level, string) {
	line = strings.TrimRight(line, "\n")
	level := slog.LevelError
	if strings.HasPrefix(line, "[") {
		if end := strings.IndexByte(line, ']'); end > 0 {
			switch line[1:end] {
			case "DEBUG", "TRACE":
				level = slog.LevelDebug
			case "INFO":
				level = slog.LevelInfo
			case "WARN":
				level = slog.LevelWarn
			}
			line = strings.TrimSpace(line[end+1:])
		}
	}
	msg := strings.TrimPrefix(line, "memberlist: ")
	if strings.Contains(msg, "use of closed network connection") {
		level = slog.LevelDebug // shutting down
	}
	return level, msg
}
