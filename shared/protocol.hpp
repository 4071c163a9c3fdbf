// The guest <-> host protocol, defined once: guest/init.cpp writes it, the host (host/run/) reads it.
// Header-only, standard library only.
//
// The results port (a second serial line, raw, byte-exact) carries one record per line, each starting
// with its tag, and framed blocks for payloads that are not lines:
//
//   xua-insmod ok | xua-insmod error <errno> <message>
//   xua-info <json>                   module INFO plus what the guest itself sees (/proc/cpuinfo, uname)
//   xua-job-begin <job>               the job's own output follows, line by line (TAP for the tests)
//   ...
//   xua-job-exit <status>
//   xua-block-begin <name> <bytes>    exactly <bytes> bytes of payload follow, then a newline and
//   <payload>                         the matching end line: a truncated or interleaved block is
//   xua-block-end <name>              recognised as such, never half-parsed
//   xua-done                          the init ran to its end
//
// Blocks: "benchmark-json" (the Google Benchmark JSON of a bench job), "dmesg" (the kernel log).
// On the console (not the results port): "xuaccess-init: started ..." when the init starts, and
// "xua-progress k/N name" per finished benchmark (the host's inactivity watchdog feeds on them).
#pragma once

#include <charconv>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace xua::protocol {

inline constexpr std::string_view kInsmod = "xua-insmod";
inline constexpr std::string_view kInfo = "xua-info";
inline constexpr std::string_view kJobBegin = "xua-job-begin";
inline constexpr std::string_view kJobExit = "xua-job-exit";
inline constexpr std::string_view kBlockBegin = "xua-block-begin";
inline constexpr std::string_view kBlockEnd = "xua-block-end";
inline constexpr std::string_view kDone = "xua-done";
inline constexpr std::string_view kProgress = "xua-progress";    // console
inline constexpr std::string_view kStarted = "xuaccess-init: started";  // console

inline constexpr std::string_view kBenchmarkJson = "benchmark-json";
inline constexpr std::string_view kDmesg = "dmesg";

// Writer side: one record line, and one framed block.
inline std::string record(std::string_view tag, std::string_view payload = {})
{
	std::string s(tag);
	if (!payload.empty())
		s.append(" ").append(payload);
	s.append("\n");
	return s;
}

// The end of the job: its exit record on a line of its own. The job writes to the port directly and its last
// line may lack a newline (Google Benchmark 1.9's "-- LOG(0): ..." warnings have none), so a newline goes first;
// parse() drops the empty line that leaves when the output did end with one.
inline std::string job_end(int status)
{
	std::string s(1, '\n');
	s += record(kJobExit, std::to_string(status));
	return s;
}

inline std::string block(std::string_view name, std::string_view payload)
{
	std::string header(name);
	header.append(" ").append(std::to_string(payload.size()));
	std::string s = record(kBlockBegin, header);
	s.append(payload).append("\n").append(record(kBlockEnd, name));
	return s;
}

struct Block {
	std::string content;
	bool complete = false;  // the announced length arrived and the end line followed it
	std::string problem;    // why it is not complete: truncated, length mismatch
};

// What the results port said, parsed. Payloads (the info JSON, block contents) stay text: the host parses them.
struct Report {
	bool insmod_ok = false;
	std::string insmod_error;              // "<errno> <message>" when insmod failed
	std::string info;                      // xua-info payload, empty if absent
	bool job_started = false;
	std::string job;                       // xua-job-begin payload
	std::vector<std::string> job_output;   // lines between xua-job-begin and xua-job-exit
	int job_exit = -1;                     // -1: never reported
	std::map<std::string, Block> blocks;
	bool done = false;
	std::vector<std::string> problems;     // framing errors, in order
};

namespace detail {

// The tag's payload when `line` is exactly the tag or the tag, a space and a payload.
inline bool tagged(std::string_view line, std::string_view tag, std::string_view &payload)
{
	if (line.substr(0, tag.size()) != tag)
		return false;
	if (line.size() == tag.size()) {
		payload = {};
		return true;
	}
	if (line[tag.size()] != ' ')
		return false;
	payload = line.substr(tag.size() + 1);
	return true;
}

}  // namespace detail

// Parses the results port. Carriage returns are dropped first (a console fallback turns \n into \r\n).
// Lines outside records (garbage, printk that reached the port) are ignored, except inside the job, where
// they are the job's output.
inline Report parse(std::string_view raw)
{
	std::string text;
	text.reserve(raw.size());
	for (char c : raw)
		if (c != '\r')
			text += c;
	Report r;
	bool in_job = false;
	size_t pos = 0;
	while (pos < text.size()) {
		size_t nl = text.find('\n', pos);
		bool last = nl == std::string::npos;
		std::string_view line(text.data() + pos, (last ? text.size() : nl) - pos);
		size_t next = last ? text.size() : nl + 1;
		std::string_view p;
		if (detail::tagged(line, kBlockBegin, p)) {
			auto sp = p.rfind(' ');
			std::string name(p.substr(0, sp));
			size_t len = 0;
			auto lenstr = sp == std::string_view::npos ? std::string_view() : p.substr(sp + 1);
			auto [ptr, ec] = std::from_chars(lenstr.data(), lenstr.data() + lenstr.size(), len);
			Block &b = r.blocks[name];
			std::string end_line = "\n";
			end_line.append(record(kBlockEnd, name));
			if (sp == std::string_view::npos || ec != std::errc() || ptr != lenstr.data() + lenstr.size()) {
				b.problem = "bad block header '" + std::string(line) + "'";
				r.problems.push_back(b.problem);
				pos = next;
				continue;
			}
			if (next + len <= text.size() && text.compare(next + len, end_line.size(), end_line) == 0) {
				b.content = text.substr(next, len);
				b.complete = true;
				pos = next + len + end_line.size();
				continue;
			}
			// Not where the length says: either truncated (no end line at all) or something interleaved.
			size_t end = text.find(end_line, next > 0 ? next - 1 : 0);
			if (end == std::string::npos) {
				b.content = text.substr(next);
				b.problem = "block '" + name + "' truncated: " + std::to_string(text.size() - next) + " of " +
					    std::to_string(len) + " bytes, no end line";
				r.problems.push_back(b.problem);
				break;
			}
			b.content = end + 1 > next ? text.substr(next, end + 1 - next) : std::string();
			if (!b.content.empty() && b.content.back() == '\n')
				b.content.pop_back();
			b.problem = "block '" + name + "' has " + std::to_string(b.content.size()) + " bytes where " +
				    std::to_string(len) + " were announced (output interleaved?)";
			r.problems.push_back(b.problem);
			pos = end + end_line.size();
			continue;
		}
		if (detail::tagged(line, kInsmod, p)) {
			r.insmod_ok = p == "ok";
			if (!r.insmod_ok)
				r.insmod_error = std::string(p.substr(p.substr(0, 6) == "error " ? 6 : 0));
		} else if (detail::tagged(line, kInfo, p)) {
			r.info = std::string(p);
		} else if (detail::tagged(line, kJobBegin, p)) {
			r.job_started = in_job = true;
			r.job = std::string(p);
		} else if (detail::tagged(line, kJobExit, p)) {
			if (in_job && !r.job_output.empty() && r.job_output.back().empty())
				r.job_output.pop_back();  // job_end's leading newline
			int v = -1;
			std::from_chars(p.data(), p.data() + p.size(), v);
			r.job_exit = v;
			in_job = false;
		} else if (detail::tagged(line, kDone, p)) {
			r.done = true;
		} else if (in_job && !(last && line.empty())) {
			r.job_output.emplace_back(line);
		}
		pos = next;
	}
	return r;
}

}  // namespace xua::protocol
