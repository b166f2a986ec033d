//
// GovpnVectorLevels.h
//
// For GoVPN unit tests: run a check once per vector level the CPU has, so the SSE2, SSSE3, AVX2
// and AVX-512 code paths of the codec and the relay reader are all covered on one machine.
//


#ifndef Switchboard_Tests_GovpnVectorLevels_INCLUDED
#define Switchboard_Tests_GovpnVectorLevels_INCLUDED


#include "Codec.h"
#include <functional>


namespace Switchboard {
namespace Tests {


inline void forEachVectorLevel(const std::function<void()>& body)
/// Runs body with the codec limited to each level in turn; restores the default afterwards, also
/// when body throws (a failed assertion).
{
	using Govpn::VectorLevel;
	struct Restore
	{
		~Restore() { Govpn::limitVectorLevel(VectorLevel::AVX512_VBMI); }
	} restore;
	for (VectorLevel level : {VectorLevel::BASELINE, VectorLevel::SSSE3, VectorLevel::AVX2, VectorLevel::AVX512_VBMI})
		if (Govpn::canUseVectors(level))
		{
			Govpn::limitVectorLevel(level);
			body();
		}
}


} // namespace Tests
} // namespace Switchboard


#endif // Switchboard_Tests_GovpnVectorLevels_INCLUDED
