#pragma once
// Wake-ups deferred to the end of a batch. A thread that hands many records to other threads in
// a row (a reader applying everything one read returned) holds a wake_batch while it does: a
// wake-up asked for meanwhile (an I/O thread's inbox went from empty to not) runs once, when the
// outermost batch of the thread ends, rather than at once. On a shared core an immediate wake-up
// lets the woken thread preempt the reader for every record: two context switches per record
// where one batch needs one wake-up per thread woken.
#include <cstddef>

namespace tributary {

class wake_batch {
 public:
  using waker = void (*)(void* ctx);

  wake_batch();
  ~wake_batch();  // the outermost one runs the wake-ups deferred meanwhile
  wake_batch(const wake_batch&) = delete;
  wake_batch& operator=(const wake_batch&) = delete;

  // Runs w(ctx) now, or when this thread's batch ends if it holds one.
  static void wake(waker w, void* ctx);
};

}  // namespace tributary
