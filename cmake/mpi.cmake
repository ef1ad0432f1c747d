# Training with several processes under mpirun or srun (tools/cnn/cluster.cpp): Debian's Open MPI (openmpi-bin,
# libopenmpi-dev), or any MPI that find_package finds. Without one the tool is built for one process and says so in
# `cnn --version`. Only the tool links MPI: the library sees it through cnn::Collective.
set(MPI_CXX_SKIP_MPICXX ON)  # the C API from C++, not the deprecated C++ bindings
find_package(MPI COMPONENTS CXX)
if(MPI_CXX_FOUND AND TARGET cnn_tool)
  target_compile_definitions(cnn_tool PRIVATE CNN_HAVE_MPI=1)
  target_link_libraries(cnn_tool PRIVATE MPI::MPI_CXX)
endif()
