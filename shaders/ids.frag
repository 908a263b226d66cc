#version 330
// Writes perspective-correct barycentrics and triangle index + 1 (0 is background) to a float texture.
in vec3 v_bary;
out vec4 frag_out;

void main() {
    frag_out = vec4(v_bary, float(gl_PrimitiveID + 1));
}
