package sft

import (
	"path/filepath"
	"time"

	"github.com/ordermerge/ordermerge/tensor"
)

// DefaultCheckpointInterval is how often a run with a checkpoint folder saves when
// Config.CheckpointInterval is zero: a killed run (SIGKILL, out of memory, a node lost) then
// loses at most this much training, whether or not CheckpointEvery is set.
const DefaultCheckpointInterval = 5 * time.Minute

// checkpointing is the trainer's state for periodic checkpoints.
type checkpointing struct {
	// lock is the lock of Config.CheckpointDir while Run runs (the caller's, or Run's own).
	lock *tensor.FolderLock
	// last is when the last checkpoint was written (or the run started).
	last time.Time
	// now is the clock (tests replace it); nil means time.Now.
	now func() time.Time
}

func (c *checkpointing) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// interval is the time cadence of checkpoints; 0 when there is none.
func (c *Config) interval() time.Duration {
	switch {
	case c.CheckpointInterval < 0:
		return 0
	case c.CheckpointInterval == 0:
		return DefaultCheckpointInterval
	}
	return c.CheckpointInterval
}

// lockCheckpoints makes the run hold the lock of its checkpoint folder, so that no other run
// (another process, another trainer of this one) writes there meanwhile; release gives it
// back. With Config.CheckpointLock the caller already holds it and keeps it.
func (t *Trainer) lockCheckpoints() (release func(), err error) {
	t.ck.last = t.ck.clock()
	if t.cfg.CheckpointDir == "" {
		return func() {}, nil
	}
	if l := t.cfg.CheckpointLock; l != nil {
		t.ck.lock = l
		return func() { t.ck.lock = nil }, nil
	}
	l, err := tensor.LockFolder(t.cfg.CheckpointDir)
	if err != nil {
		return nil, err
	}
	t.ck.lock = l
	return func() {
		t.ck.lock = nil
		l.Unlock()
	}, nil
}

// lockFor is the lock a save into dir runs under: the run's, when dir is its checkpoint folder;
// nil otherwise (the save then locks dir itself).
func (t *Trainer) lockFor(dir string) *tensor.FolderLock {
	if t.ck.lock != nil && t.ck.lock.Dir() == filepath.Clean(dir) {
		return t.ck.lock
	}
	return nil
}

// checkpointDue reports whether the step just finished should be checkpointed: every
// CheckpointEvery steps, and whenever the time cadence has passed since the last one. The last
// step never is: the run's end writes its own checkpoint, with the final losses.
func (t *Trainer) checkpointDue() bool {
	if t.cfg.CheckpointDir == "" || t.step >= t.totalSteps {
		return false
	}
	if t.cfg.CheckpointEvery > 0 && t.step%t.cfg.CheckpointEvery == 0 {
		return true
	}
	iv := t.cfg.interval()
	return iv > 0 && t.ck.clock().Sub(t.ck.last) >= iv
}
