// The kernel's own reading of its command line, as the oracle of the kexec fuzz target: a port
// of next_arg() and the loop of parse_args() (lib/cmdline.c, kernel/params.c, Linux 6.x),
// written from those functions, with the kernel's isspace() (lib/ctype.c: space, \t, \n, \v,
// \f, \r and 0xa0, Latin-1's no-break space). The command line is a C string: it ends at the
// first NUL.
#pragma once

#include <string>
#include <vector>

namespace warmboot::fuzz {

struct KernelParam {
  std::string param;
  bool has_value = false;
  std::string value;
};

struct KernelCmdline {
  std::vector<KernelParam> params;  // before a bare "--"
  bool has_init_args = false;
  std::string init_args;            // what follows "--" (init's arguments)
  bool unterminated_quote = false;  // a parameter (not the "--") ran to the end inside a quote
};

inline bool KernelIsSpace(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || c == 0xa0;
}

inline KernelCmdline ParseKernelCmdline(const std::string& line) {
  std::string buf = line.substr(0, line.find('\0'));
  buf.push_back('\0');
  char* args = buf.data();
  auto skip_spaces = [](char* s) {
    while (KernelIsSpace(static_cast<unsigned char>(*s))) ++s;
    return s;
  };
  KernelCmdline out;
  args = skip_spaces(args);
  while (*args) {
    // next_arg()
    unsigned i, equals = 0;
    bool in_quote = false, quoted = false;
    if (*args == '"') {
      ++args;
      in_quote = quoted = true;
    }
    for (i = 0; args[i]; ++i) {
      if (KernelIsSpace(static_cast<unsigned char>(args[i])) && !in_quote) break;
      if (equals == 0 && args[i] == '=') equals = i;
      if (args[i] == '"') in_quote = !in_quote;
    }
    const bool open_quote = !args[i] && in_quote;
    char* param = args;
    char* val = nullptr;
    if (equals) {
      args[equals] = '\0';
      val = args + equals + 1;
      if (*val == '"') {
        ++val;
        if (args[i - 1] == '"') args[i - 1] = '\0';
      }
    }
    if (quoted && i > 0 && args[i - 1] == '"') args[i - 1] = '\0';
    if (args[i]) {
      args[i] = '\0';
      args += i + 1;
    } else {
      args += i;
    }
    args = skip_spaces(args);
    // parse_args(): a bare "--" ends the kernel's parameters.
    if (!val && std::string(param) == "--") {
      out.has_init_args = true;
      out.init_args = args;
      return out;
    }
    // A quote left open in a parameter swallowed all after it; in the "--" itself (`"--` at the
    // very end) it swallowed nothing.
    if (open_quote) out.unterminated_quote = true;
    out.params.push_back({param, val != nullptr, val ? std::string(val) : std::string()});
  }
  return out;
}

}  // namespace warmboot::fuzz
