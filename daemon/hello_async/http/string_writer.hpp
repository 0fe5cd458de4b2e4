#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

namespace hello_async {

/// Appends to a std::string through a plain pointer, for text built on every request (response
/// heads, request log entries). Those are a dozen or more short pieces, and std::string's
/// append, compiled into libstdc++ and checking capacity each time, costs more per piece than
/// the copy itself. The string grows once by an estimate up front, again only if a piece does
/// not fit, and is cut to what was written when the writer goes out of scope.
class string_writer
{
  public:
    string_writer(std::string& out, std::size_t expected_bytes)
        : out_{out}
        , next_{extend(out, expected_bytes)}
        , end_{out.data() + out.size()}
    {}

    string_writer(string_writer const&) = delete;
    string_writer& operator=(string_writer const&) = delete;
    string_writer(string_writer&&) = delete;
    string_writer& operator=(string_writer&&) = delete;

    ~string_writer() { out_.resize(static_cast<std::size_t>(next_ - out_.data())); }

    void put(std::string_view text)
    {
        if (text.empty())
            return;
        if (text.size() > static_cast<std::size_t>(end_ - next_)) [[unlikely]]
            grow(text.size());
        std::memcpy(next_, text.data(), text.size());
        next_ += text.size();
    }

    void put(char c)
    {
        if (next_ == end_) [[unlikely]]
            grow(1);
        *next_++ = c;
    }

  private:
    /// Makes room for `bytes` more at the end of `out`; returns where that room starts.
    static char* extend(std::string& out, std::size_t bytes)
    {
        auto const used = out.size();
        out.resize(used + bytes);
        return out.data() + used;
    }

    void grow(std::size_t bytes)
    {
        auto const used = static_cast<std::size_t>(next_ - out_.data());
        out_.resize(std::max(out_.size() * 2, used + bytes));
        next_ = out_.data() + used;
        end_ = out_.data() + out_.size();
    }

    std::string& out_;
    char* next_;
    char* end_;
};

} // namespace hello_async
