# cmake -P script behind Install.ConsumerBuildsAgainstInstalledPackage; see CMakeLists.txt.
function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: ${step} failed (${rc})\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
# Only the prefix: the consumer must not see cuae's source or build tree.
run("configure the consumer" ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/build -G ${GENERATOR}
    -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCUAE_EXAMPLE_SOURCE=${EXAMPLE_SOURCE})
string(FIND "${step_output}" "from ${prefix}/" found)
if(found EQUAL -1)
  message(FATAL_ERROR "install test: the consumer did not find cuae under ${prefix}:\n${step_output}")
endif()
run("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
set(model ${WORK_DIR}/embed.safetensors)
run("run the consumer" ${WORK_DIR}/build/embed ${model})
message(STATUS "${step_output}")
if(NOT step_output MATCHES "embed: .*saved" OR NOT EXISTS ${model})
  message(FATAL_ERROR "install test: embed did not report a saved model:\n${step_output}")
endif()
