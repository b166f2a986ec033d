//
// Utf8Fuzz.cpp
//
// Fuzz target: every UTF-8 validator in the tree against the independent decoder of
// ReferenceUtf8.h. Input: one byte choosing how to split, then the text. Checks: the host's
// incremental WS::Utf8Validator (whole, split anywhere: each feed() is true exactly while the
// bytes so far can still begin valid UTF-8, complete() exactly at sequence ends), the SDK's
// HttpText::isValidUtf8 and MetricRules::isUtf8, GoVPN's isUtf8 all equal the reference;
// HttpText::replaceInvalidUtf8 replaces maximal subparts as Unicode says; and the helpers that
// cut or count UTF-8 (close reasons, PeerVault's echoes, Together's lengths) keep to sequence
// boundaries.
//


#include "Codec.h"
#include "Events.h"
#include "FuzzSupport.h"
#include "ReferenceUtf8.h"
#include "Rules.h"
#include "switchboard/util/HttpText.h"
#include "switchboard/util/MetricRules.h"
#include "ws/FrameEncoder.h"
#include "ws/Utf8Validator.h"
#include <algorithm>
#include <string>


using Switchboard::Test::analyseUtf8;
using Switchboard::Test::FuzzInput;
using Switchboard::Test::hexOf;
using Switchboard::Test::Utf8Analysis;
using Switchboard::WS::Utf8Validator;


namespace {


void checkIncremental(std::string_view text, const Utf8Analysis& reference, FuzzInput& splits)
{
	Utf8Validator validator;
	// Start from a used validator: reset() must forget everything.
	validator.feed("\xF0\x9F", 2);
	validator.feed("\xC0", 1);
	validator.reset();
	FUZZ_CHECK(validator.complete() && !validator.failed());

	std::size_t fed = 0;
	const std::size_t maxPiece = 1 + splits.takeByte() % 16;
	std::uint8_t choice = splits.takeByte();
	while (true)
	{
		choice = static_cast<std::uint8_t>(choice * 5 + 7); // full period: every size comes up
		const std::size_t n = std::min<std::size_t>(text.size() - fed, choice % (maxPiece + 1));
		const bool ok = validator.feed(text.data() + fed, n);
		fed += n;
		const bool prefixOk = fed <= reference.validPrefix;
		FUZZ_CHECK_MSG(ok == prefixOk, "after " + std::to_string(fed) + " bytes of " + hexOf(text));
		FUZZ_CHECK(validator.failed() == !prefixOk);
		FUZZ_CHECK_MSG(validator.complete() == (prefixOk && !reference.openAfter[fed]),
		               "after " + std::to_string(fed) + " bytes of " + hexOf(text));
		if (fed == text.size())
			break;
	}
	FUZZ_CHECK(validator.complete() == reference.valid);
}


} // namespace


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
	FuzzInput input(data, size);
	const std::uint8_t splitSeed = input.takeByte();
	const std::string text(input.rest());
	const Utf8Analysis reference = analyseUtf8(text);

	FUZZ_CHECK_MSG(Utf8Validator::isValid(text.data(), text.size()) == reference.valid, hexOf(text));
	FUZZ_CHECK_MSG(Switchboard::HttpText::isValidUtf8(text) == reference.valid, hexOf(text));
	FUZZ_CHECK_MSG(Switchboard::MetricRules::isUtf8(text) == reference.valid, hexOf(text));
	FUZZ_CHECK_MSG(Switchboard::Govpn::isUtf8(text) == reference.valid, hexOf(text));

	std::string splitBytes(2, static_cast<char>(splitSeed));
	splitBytes[1] = static_cast<char>(splitSeed * 7 + 1);
	FuzzInput splits(splitBytes);
	checkIncremental(text, reference, splits);

	const std::string replaced = Switchboard::HttpText::replaceInvalidUtf8(text);
	FUZZ_CHECK_MSG(replaced == reference.replaced, hexOf(text) + " -> " + hexOf(replaced));
	FUZZ_CHECK(analyseUtf8(replaced).valid);
	FUZZ_CHECK((replaced == text) == reference.valid);

	// Cutting and counting, which assume valid UTF-8 or must not make it invalid.
	const std::string echo = Switchboard::PeerVault::truncateEcho(text);
	FUZZ_CHECK(text.compare(0, echo.size(), echo) == 0);
	if (reference.valid)
	{
		FUZZ_CHECK(Switchboard::Together::codePoints(text) == reference.codePoints);
		const Utf8Analysis cut = analyseUtf8(echo);
		FUZZ_CHECK_MSG(cut.valid && cut.codePoints == std::min<std::size_t>(64, reference.codePoints), hexOf(echo));

		const std::string close = Switchboard::WS::closePayload(1000, text);
		FUZZ_CHECK(close.size() >= 2 && close.size() <= Switchboard::WS::MAX_CONTROL_PAYLOAD);
		FUZZ_CHECK(close[0] == '\x03' && close[1] == '\xE8');
		const std::string reason = close.substr(2);
		FUZZ_CHECK(text.compare(0, reason.size(), reason) == 0);
		FUZZ_CHECK_MSG(analyseUtf8(reason).valid, hexOf(reason));
		// Only as much is cut as the limit needs: the next code point would not have fitted.
		if (reason.size() < text.size())
		{
			std::size_t length = 1;
			while (reason.size() + length < text.size() &&
			       (static_cast<unsigned char>(text[reason.size() + length]) & 0xC0) == 0x80)
				++length;
			FUZZ_CHECK_MSG(2 + reason.size() + length > Switchboard::WS::MAX_CONTROL_PAYLOAD, hexOf(text));
		}
	}
	return 0;
}
