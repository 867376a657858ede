package banditd

import "testing"

// Rooms on different streams have sequences that do not compare: a read of
// a quiet room must not wait for a busy room's sequence (its stream may
// never reach it). Catches one mark for the whole session.
func TestMarkIsPerRoom(t *testing.T) {
	m := newMark()
	m.advance([]string{"busy"}, 50)
	m.advance([]string{"quiet"}, 3)
	m.advance([]string{"busy", "quiet"}, 0) // a batch over two streams
	m.advance([]string{"quiet"}, 2)         // older: ignored
	if got := m.get("quiet"); got != 3 {
		t.Errorf("quiet: got %d, want 3", got)
	}
	if got := m.get("busy"); got != 50 {
		t.Errorf("busy: got %d, want 50", got)
	}
	if got := m.get("other"); got != 0 {
		t.Errorf("other: got %d, want 0", got)
	}
	if got := m.highest(); got != 50 {
		t.Errorf("highest: got %d, want 50", got)
	}
}
