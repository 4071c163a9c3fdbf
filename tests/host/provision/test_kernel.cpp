// host/provision/kernel: the compressed payload of an x86 bzImage found from its setup header, and refused when
// the header is missing or points past the image.
#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "provision/kernel.hpp"

using namespace xua;

TEST(BzImage, FindsPayloadFromSetupHeader)
{
	std::string img(8192, '\0');
	img[0x1f1] = 3;  // setup_sects: payload base at (3+1)*512 = 2048
	std::memcpy(&img[0x202], "HdrS", 4);
	uint32_t off = 100, len = 600;
	std::memcpy(&img[0x248], &off, 4);
	std::memcpy(&img[0x24c], &len, 4);
	std::memcpy(&img[2048 + 100], "\xfd" "7zXZ\0", 6);
	auto p = bzimage_payload(img);
	EXPECT_EQ(p.offset, 2148u);
	EXPECT_EQ(p.length, 600u);
	EXPECT_EQ(p.compression, "xz");
	EXPECT_THROW(bzimage_payload(std::string(8192, '\0')), Error);
	len = 1u << 30;
	std::memcpy(&img[0x24c], &len, 4);
	EXPECT_THROW(bzimage_payload(img), Error);
}
