#include "util/status_json.h"

namespace warmboot {

nlohmann::json ToJson(const Status& s) {
  return nlohmann::json{{"code", CodeName(s.code())}, {"message", s.message()}};
}

}  // namespace warmboot
