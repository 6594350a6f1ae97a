// A task queue for cpp-httplib that grows with demand. httplib's own ThreadPool has a fixed size
// and holds one thread per connection for the whole of a streamed response (and while the
// connection idles in keep-alive), so a fixed pool of N threads serves at most N streams at once
// and queues the rest. This one starts a new worker whenever no idle worker can take a job, up to
// `max_threads`; idle workers stay for the next connection.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace drover::gateway {

class GrowingThreadPool final : public httplib::TaskQueue {
 public:
  GrowingThreadPool(size_t initial_threads, size_t max_threads)
      : max_threads_(max_threads < 1 ? 1 : max_threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (threads_.size() < initial_threads && threads_.size() < max_threads_)
      threads_.emplace_back([this] { work(); });
  }
  GrowingThreadPool(const GrowingThreadPool&) = delete;
  GrowingThreadPool& operator=(const GrowingThreadPool&) = delete;
  ~GrowingThreadPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(fn));
      // Workers that were just started are not idle yet, so this may start one thread too many;
      // it never leaves a job waiting while the pool is below its limit.
      if (idle_ < jobs_.size() && threads_.size() < max_threads_)
        threads_.emplace_back([this] { work(); });
    }
    cond_.notify_one();
  }

  void shutdown() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutdown_ = true;
      threads.swap(threads_);
    }
    cond_.notify_all();
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }

  size_t thread_count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_.size();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ++idle_;
        cond_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        --idle_;
        if (jobs_.empty()) return;  // shutting down with nothing left to do
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      fn();
    }
  }

  const size_t max_threads_;
  std::mutex mutex_;
  std::condition_variable cond_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool shutdown_ = false;
};

}  // namespace drover::gateway
