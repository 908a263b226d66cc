#version 330
// Mesh vertex shader; with SKINNED defined it applies linear blend skinning with 24 joint matrices.
uniform mat4 view_proj;
uniform mat4 view;
in vec3 in_position;
in vec3 in_normal;
in vec3 in_color;
in vec2 in_uv;
#ifdef SKINNED
uniform mat4 joint_matrices[24];
in ivec4 in_joints;
in vec4 in_weights;
#endif
out vec3 v_world;
out vec3 v_normal;
out vec3 v_view_normal;
out vec3 v_color;
out vec2 v_uv;

void main() {
    vec4 position = vec4(in_position, 1.0);
    vec3 normal = in_normal;
#ifdef SKINNED
    mat4 skin = in_weights.x * joint_matrices[in_joints.x] + in_weights.y * joint_matrices[in_joints.y]
              + in_weights.z * joint_matrices[in_joints.z] + in_weights.w * joint_matrices[in_joints.w];
    position = skin * position;
    normal = mat3(skin) * normal;
#endif
    v_world = position.xyz;
    v_normal = normal;
    v_view_normal = mat3(view) * normal;
    v_color = in_color;
    v_uv = in_uv;
    gl_Position = view_proj * position;
}
