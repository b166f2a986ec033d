//
// ReferenceClients.cpp
//


#include "ReferenceClients.h"
#include <cstdlib>


namespace Switchboard {
namespace Test {


std::string referenceClientsDir()
{
	const char* configured = std::getenv("SWITCHBOARD_CLIENTS_DIR");
	return configured != nullptr && *configured != '\0' ? std::string(configured)
	                                                    : std::string(SWITCHBOARD_SOURCE_DIR) + "/../shared/clients";
}


} // namespace Test
} // namespace Switchboard
