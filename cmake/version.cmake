# Writes OUT (a C++ file defining banditd::kVersion and banditd::kGitCommit)
# from VERSION and the checkout's current commit. Run at every build by the
# banditd_version target; configure_file leaves OUT untouched (so nothing
# recompiles) while the commit is the same.
#   cmake -DSOURCE_DIR=... -DVERSION=... -DIN=... -DOUT=... -P version.cmake
set(GIT_COMMIT "unknown")
find_program(GIT git)
if(GIT AND EXISTS ${SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT} rev-parse --short=12 HEAD
    WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE commit
    OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(rc EQUAL 0)
    set(GIT_COMMIT ${commit})
    execute_process(COMMAND ${GIT} diff --quiet HEAD --
      WORKING_DIRECTORY ${SOURCE_DIR} RESULT_VARIABLE dirty ERROR_QUIET)
    if(NOT dirty EQUAL 0)
      string(APPEND GIT_COMMIT "-dirty")
    endif()
  endif()
endif()
configure_file(${IN} ${OUT} @ONLY)
