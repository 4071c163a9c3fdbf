#include "base/cache_dir.hpp"

namespace xua {

bool read_stamp(const fs::path &stamp, std::string_view instead,
		const std::function<void(const nlohmann::json &)> &take)
{
	if (!fs::exists(stamp))
		return false;
	try {
		take(nlohmann::json::parse(read_file(stamp)));
		return true;
	} catch (const nlohmann::json::exception &e) {
		fmt::print(stderr, "xuaccess: warning: {} does not parse ({}): {}\n", stamp.string(), e.what(), instead);
		return false;
	}
}

void write_stamp(const fs::path &stamp, const nlohmann::json &j)
{
	write_file(stamp, j.dump(2) + "\n");
}

}  // namespace xua
