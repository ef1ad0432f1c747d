# The tool under a real mpirun (tests/mpi/mpi_test.sh), when the build has MPI (cmake/mpi.cmake) and mpirun exists.
find_program(CNN_MPIRUN NAMES mpirun)
if(TARGET cnn_tool AND MPI_CXX_FOUND AND CNN_MPIRUN)
  foreach(case bits tcp resume faults)
    add_test(NAME mpi_${case} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/mpi/mpi_test.sh $<TARGET_FILE:cnn_tool> ${case})
    # mpirun's ranks share the 2 cores with each other, not with other tests
    set_tests_properties(mpi_${case} PROPERTIES TIMEOUT 240 RUN_SERIAL ON ENVIRONMENT "PATH=$ENV{PATH}")
  endforeach()
endif()
