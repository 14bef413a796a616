#pragma once
// A FIFO on a circular buffer that grows by doubling and never shrinks on its own: a queue
// that is pushed and popped at a steady rate makes no allocation (std::deque allocates and
// frees a block every few hundred bytes pushed).
#include <cstddef>
#include <utility>
#include <vector>

namespace tributary {

template <class T>
class ring_queue {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  T& front() { return buf_[head_]; }
  const T& front() const { return buf_[head_]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }
  T& operator[](size_t i) { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  const T& operator[](size_t i) const { return buf_[(head_ + i) & (buf_.size() - 1)]; }

  void push_back(T v) {
    if (size_ == buf_.size()) grow();
    (*this)[size_++] = std::move(v);
  }
  void pop_front() {
    buf_[head_] = T();  // releases what it holds now, not when overwritten
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
  }
  void clear() {
    while (!empty()) pop_front();
    head_ = 0;
  }
  // Keeps the elements for which `keep` is true, in order.
  template <class F>
  void keep_if(F keep) {
    size_t out = 0;
    for (size_t i = 0; i < size_; ++i)
      if (keep((*this)[i])) {
        if (out != i) (*this)[out] = std::move((*this)[i]);
        ++out;
      }
    for (size_t i = out; i < size_; ++i) (*this)[i] = T();
    size_ = out;
  }

 private:
  void grow() {
    std::vector<T> next(buf_.empty() ? 4 : buf_.size() * 2);  // a power of two: indexes wrap by mask
    for (size_t i = 0; i < size_; ++i) next[i] = std::move((*this)[i]);
    buf_.swap(next);
    head_ = 0;
  }

  std::vector<T> buf_;
  size_t head_ = 0, size_ = 0;
};

}  // namespace tributary
