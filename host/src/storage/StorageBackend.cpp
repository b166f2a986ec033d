//
// StorageBackend.cpp
//


#include "storage/StorageBackend.h"
#include <memory>


namespace Switchboard {
namespace Core {


void runStatementAsync(const StorageBackend::Offload& offload, std::function<QueryResult()> statement,
                       std::function<void(QueryResult)> done)
{
	auto pResult = std::make_shared<QueryResult>();
	auto work = [statement = std::move(statement), pResult]() { *pResult = statement(); };
	auto completion = [pResult, done]() {
		if (done)
			done(std::move(*pResult));
	};
	if (!offload)
	{
		work();
		completion();
		return;
	}
	try
	{
		offload(std::move(work), std::move(completion));
	}
	catch (const std::exception& e)
	{
		if (done)
		{
			QueryResult failed;
			failed.error = std::string("cannot schedule the statement: ") + e.what();
			done(std::move(failed));
		}
	}
}


} // namespace Core
} // namespace Switchboard
