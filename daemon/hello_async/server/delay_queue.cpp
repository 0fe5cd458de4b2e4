#include "hello_async/server/delay_queue.hpp"

#include <boost/asio/post.hpp>

#include <vector>

namespace hello_async {

using steady = std::chrono::steady_clock;

void delay_queue::add(steady::time_point when, handler h)
{
    bool const earliest = waiting_.empty() || when < waiting_.begin()->first;
    waiting_.emplace(when, std::move(h));
    if (earliest)
        arm();
}

void delay_queue::arm()
{
    if (timer_ == nullptr || waiting_.empty())
        return;
    // Re-arming cancels the wait in flight; its handler sees operation_aborted and leaves.
    timer_->expires_at(waiting_.begin()->first);
    timer_->async_wait([this](boost::system::error_code ec) {
        if (!ec)
            wake_due();
    });
}

void delay_queue::wake_due()
{
    auto const now = steady::now();
    auto const due_end = waiting_.upper_bound(now);
    std::vector<handler> due;
    for (auto it = waiting_.begin(); it != due_end; ++it)
        due.push_back(std::move(it->second));
    waiting_.erase(waiting_.begin(), due_end);
    arm();
    // Posted, not called: a resumed session must not run inside this loop.
    auto const executor = timer_->get_executor();
    for (auto& waiter : due) {
        boost::asio::post(executor, [waiter = std::move(waiter)]() mutable {
            std::move(waiter)(boost::system::error_code{});
        });
    }
}

void delay_queue::abandon()
{
    auto abandoned = std::move(waiting_);
    waiting_.clear();
    abandoned.clear(); // destroys the waiting sessions' frames
}

} // namespace hello_async
